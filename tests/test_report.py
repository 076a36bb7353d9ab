"""The printable report: real recording + segments, numbers equal to the results file, pages not blank,
"not available" sections, identifying fields, workspace audit, atomic writes, offscreen snapshots.
The page layout (fill, whole words in cells, one text column) is tested in test_report_layout.py."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pdfplumber
import pytest

from facelens.core import report_content as rc
from facelens.core.annotation.segments import Segment, read_segments_csv, write_segments_csv
from facelens.core.common.types import Quality
from facelens.core.dynamics import session_dynamics
from facelens.core.results import SessionResults

REPO = Path(__file__).resolve().parents[1]
WOLF = "videos/pyfeat_WolfgangLanger_Pexels.mp4"
SECTIONS = ["Data quality", "Valence and arousal over time", "Valence and arousal per segment label",
            "Affective dynamics", "Face at characteristic moments", "BD-versus-MDD model",
            "Models used by the analysis"]


def _text_pages(pdf: Path) -> list[str]:
    with pdfplumber.open(pdf) as doc:
        return [page.extract_text() or "" for page in doc.pages]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _page_ink(pdf: Path, tmp: Path) -> list[float]:
    """Share of non-white pixels of every page rendered with pdftoppm at 60 dpi."""
    from PIL import Image

    # a hard requirement (`make test` installs poppler-utils): a missing tool fails, never skips
    assert shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) is not installed; run `make test`"
    subprocess.run(["pdftoppm", "-png", "-r", "60", str(pdf), str(tmp / "page")], check=True)
    shares = []
    for png in sorted(tmp.glob("page-*.png")):
        a = np.asarray(Image.open(png).convert("L"), dtype=np.float64)
        shares.append(float((a < 200).mean()))
    return shares


@pytest.fixture(scope="module")
def wolf(analysed, tmp_path_factory):
    """The Wolfgang Langer recording (sad ≈0–9 s, happy ≈10–19.7 s) analysed, with segments."""
    h5 = analysed(WOLF)
    d = tmp_path_factory.mktemp("wolf")
    csv = write_segments_csv([Segment(0.0, 9.0, "sad", "conversation", "crying", "RA01"),
                              Segment(10.0, 19.6, "happy", "conversation", "laughing", "RA01")], d / "segs.csv")
    return h5, csv, d


@pytest.fixture(scope="module")
def wolf_pdf(wolf):
    from facelens.report import build_report_for_files

    h5, csv, d = wolf
    out = build_report_for_files(h5, csv, d / "report.pdf", patient_id="P017", session_date="2026-03-02",
                                 clinician="C12")
    return out


def test_real_recording_sections_numbers_and_footer(wolf, wolf_pdf, tmp_path):
    h5, csv, _ = wolf
    pages = _text_pages(wolf_pdf)
    text = _flat(" ".join(pages))
    for title in SECTIONS:
        assert title in text, title
    assert "not a diagnosis" in text.lower() and "research" in text.lower()
    assert "P017" in text and "2026-03-02" in text and "RA01" in text
    with SessionResults.open(h5) as res:
        segs = read_segments_csv(csv)
        dyn = session_dynamics(res, segs)
        sha = res.video_sha256
        n_frames, n_usable = res.n_frames, int(res.usable.sum())
        discards = res.discard_counts()
    # every page: page x of y, the report ID, the video hash
    rid = re.search(r"FaceLens report (R-[0-9A-F]{10})", pages[0]).group(1)
    for i, page in enumerate(pages, start=1):
        flat = _flat(page)
        assert f"Page {i} of {len(pages)}" in flat
        assert rid in flat and sha in flat
    # numbers in the PDF equal those computed from the results file
    assert f"Frames analysed {n_frames}" in text
    assert f"Frames with a usable face {n_usable}" in text
    for reason, count in discards.items():
        assert f"{reason} {count}" in text
    for lab in ("happy", "sad"):
        st = dyn.by_label[lab]
        assert st.n_valid > 0
        row = f"{lab} this session {st.n_segments} {st.n_valid} {st.valence.mean:.3f} ± {st.valence.sd:.3f} " \
              f"{st.arousal.mean:.3f} ± {st.arousal.sd:.3f}"
        assert row in text, row
    assert "0.411 ± 0.089" in text and "-0.253 ± 0.076" in text and "AsmV2L" in text  # published, cited
    sv = dyn.session_valence
    assert f"MSSD {sv.mssd:.4f}" in text and f"Inertia {sv.inertia:.3f}" in text
    # the recording really is sad then happy: the report's happy valence is above the sad one
    assert dyn.by_label["happy"].valence.mean > dyn.by_label["sad"].valence.mean
    # three snapshots drawn, every page has ink
    assert text.count("t = ") >= 3
    ink = _page_ink(wolf_pdf, tmp_path)
    assert len(ink) == len(pages) and min(ink) > 0.01


def test_charts_are_vector_and_snapshots_are_images(wolf_pdf):
    with pdfplumber.open(wolf_pdf) as doc:
        n_images = sum(len(p.images) for p in doc.pages)
        words = " ".join(p.extract_text() or "" for p in doc.pages)
    assert n_images == 3  # the three face snapshots; charts are vector forms, not bitmaps
    assert "valence" in words and "time (s)" in words  # chart axis labels are real text


def _simulated(tmp: Path, *, no_face: bool = False) -> tuple[Path, Path]:
    from facelens.core.diagnosis.simulate import simulate_session, write_session

    s = simulate_session(np.random.default_rng(3), "BD")
    if no_face:
        s["quality"][:] = int(Quality.NO_FACE)
        s["valence"][:] = np.nan
        s["arousal"][:] = np.nan
    h5 = write_session(tmp / "sim.h5", s, "S001")
    return h5, write_segments_csv(s["segments"], tmp / "sim.csv")


def test_no_valid_frames_still_renders_with_reasons(tmp_path):
    from facelens.report import build_report_for_files

    h5, csv = _simulated(tmp_path, no_face=True)
    out = build_report_for_files(h5, csv, tmp_path / "empty.pdf")
    text = _flat(" ".join(_text_pages(out)))
    assert text.count("Not available, because") >= 4
    assert "none of the" in text and "has a usable face" in text
    assert "model declined, because" in text and "SIMULATED" in text
    assert min(_page_ink(out, tmp_path)) > 0.005


def test_prediction_no_model_and_identifying_fields(tmp_path):
    from facelens.report import build_report_for_files

    h5, csv = _simulated(tmp_path)
    with_model = build_report_for_files(h5, csv, tmp_path / "m.pdf", patient_id="PSEUDO-Q77", clinician="Zyx Quill")
    text = _flat(" ".join(_text_pages(with_model)))
    with SessionResults.open(h5) as res:
        content = rc.build_content(res, read_segments_csv(csv))
    diag = content.section(rc.DiagnosisSection)
    assert not diag.refused and 0.0 <= diag.probability_bd <= 1.0
    assert "Probability of bipolar disorder" in text and "Main contributing features" in text
    assert "YES — not validated on patients" in text and diag.model_sha256 in text
    # the simulated file has no mesh: the snapshots say why instead of drawing nothing
    assert "Not available, because" in text and "mesh" in text
    # identifiers chosen so they cannot occur by chance (report IDs and hashes are hexadecimal)
    assert "PSEUDO-Q77" in text and "Zyx Quill" in text
    anon = build_report_for_files(h5, csv, tmp_path / "a.pdf", patient_id="PSEUDO-Q77", clinician="Zyx Quill",
                                  include_identifying=False, use_model=False, page_size="Letter")
    atext = _flat(" ".join(_text_pages(anon)))
    assert "PSEUDO-Q77" not in atext and "Zyx Quill" not in atext and "Clinician" not in atext
    assert "no model was selected" in atext
    with pdfplumber.open(anon) as doc:
        assert (round(doc.pages[0].width), round(doc.pages[0].height)) == (612, 792)


def test_workspace_report_is_audited(tmp_path, media):
    from facelens.core.workspace import Workspace
    from facelens.report import AUDIT_ACTION, build_report_for_session

    h5, csv = _simulated(tmp_path)
    with Workspace.open(tmp_path / "ws", user="ra01") as ws:
        s = ws.import_session(media / WOLF, "P042", date="2026-01-15", scenario="conversation")
        run = ws.record_run(s.id, h5, {"fps": 10}, [])
        ws.finish_run(run.id)
        ws.replace_segments(s.id, read_segments_csv(csv))
        out = build_report_for_session(ws, s.id, tmp_path / "ws.pdf")
        entries = ws.audit_entries(action=AUDIT_ACTION)
    assert out.is_file()
    text = _flat(" ".join(_text_pages(out)))
    assert "P042" in text and "2026-01-15" in text
    assert len(entries) == 1 and entries[0].user == "ra01"
    d = entries[0].details
    assert d["session"] == s.id and d["file"] == "ws.pdf" and d["report_id"] in text
    assert d["source"]["results"] == h5.name and any(m["id"] == "bd_mdd_reference" for m in d["models"])


def test_failed_build_leaves_no_file(tmp_path, monkeypatch):
    from facelens.report import build_report_for_files, layout

    h5, csv = _simulated(tmp_path)
    out = tmp_path / "r.pdf"

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(layout, "story", boom)
    with pytest.raises(RuntimeError):
        build_report_for_files(h5, csv, out)
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))
    with pytest.raises(ValueError, match="A4 or Letter"):
        build_report_for_files(h5, csv, out, page_size="A5")


def test_snapshot_renders_offscreen():
    from facelens.core.face.geometry import template
    from facelens.render.snapshot import SnapshotError, render_face

    img = render_face(template(), size=120)
    assert img.shape == (120, 120, 3) and img.dtype == np.uint8
    face = (img < 245).any(axis=2)
    assert 0.3 < face.mean() < 0.9  # the face fills the middle, the corners stay white
    assert not face[0, 0] and face[60, 60]
    left, right = render_face(template(), 120, yaw_deg=-30), render_face(template(), 120, yaw_deg=30)
    assert not np.array_equal(left, right)
    bad = np.array(template(), dtype=float)
    bad[5] = np.nan
    with pytest.raises(SnapshotError):
        render_face(bad)
    with pytest.raises(SnapshotError):
        render_face(np.zeros((10, 3)))


def test_cli_report(tmp_path):
    h5, csv = _simulated(tmp_path)
    cmd = [sys.executable, "-m", "facelens", "report"]
    ok = subprocess.run(cmd + [str(h5), "--segments", str(csv), "--out", str(tmp_path / "c.pdf"), "--no-model"],
                        capture_output=True, text=True, cwd=REPO, check=False)
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "c.pdf").is_file()
    bad = subprocess.run(cmd + [str(tmp_path / "missing.h5"), "--segments", str(csv), "--out",
                                str(tmp_path / "d.pdf")], capture_output=True, text=True, cwd=REPO, check=False)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "not found" in bad.stderr
    assert not (tmp_path / "d.pdf").exists()
    nosegs = subprocess.run(cmd + [str(h5), "--out", str(tmp_path / "e.pdf")], capture_output=True, text=True,
                            cwd=REPO, check=False)
    assert nosegs.returncode == 2 and "--segments" in nosegs.stderr


def test_png_fallback_without_pdfrw(tmp_path, monkeypatch):
    """Without pdfrw the charts are embedded as 200-dpi PNGs instead of failing."""
    from facelens.report import build_report_for_files, flowables

    def no_pdfrw(*a, **k):
        raise ImportError("No module named 'pdfrw'")

    monkeypatch.setattr(flowables, "VectorChart", no_pdfrw)
    h5, csv = _simulated(tmp_path)
    out = build_report_for_files(h5, csv, tmp_path / "png.pdf")
    with pdfplumber.open(out) as doc:
        n_images = sum(len(p.images) for p in doc.pages)
    assert n_images == 3  # time series, circumplex, probability bar (the simulated file has no mesh)
