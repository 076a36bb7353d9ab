"""Privacy: what FaceLens writes is owner-only whatever the umask; no network at run time (analysis,
report and GUI start-up inside a new network namespace, with every socket creation audited); no
patient identifier or video path in log records; the de-identified report has no identifying field
in its text or its PDF metadata."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from facelens.cli import main

FACE = "videos/pyfeat_single_face.mp4"
# identifiers that cannot occur by chance in a report (IDs and hashes are hexadecimal)
PATIENT, CLINICIAN, ANNOTATOR, SIGNER = "PQZ-0917", "Dr Xylo Quimby", "ra-Wuxtry", "Vexley Orm"
DATE = "2024-07-19"


def _modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *root.rglob("*")]}


def _face_video(tmp: Path, media: Path, name: str = "clip.mp4") -> Path:
    import _bad_inputs as bad

    return bad.encode(tmp / name, bad.face_frames(media / FACE, 6))


@pytest.fixture
def open_umask():
    old = os.umask(0)  # the most permissive umask: nothing may be readable by others anyway
    yield
    os.umask(old)


@pytest.mark.slow
def test_everything_written_is_owner_only_whatever_the_umask(tmp_path, media, open_umask, capsys):
    from facelens.core.annotation.segments import Segment
    from facelens.core.workspace import Workspace

    video = _face_video(tmp_path, media)
    out = tmp_path / "out"
    with Workspace.open(out / "ws") as ws:  # database, -wal, -shm, analyses/
        sid = ws.import_session(video, PATIENT).id
        ws.add_segment(sid, Segment(0.0, 0.5, "happy"))
        assert main(["analyze", str(video), "-o", str(ws.results_path_for(sid))]) == 0
        h5 = ws.results_path_for(sid)
        segs = out / "exports" / "segments.csv"
        (out / "exports").mkdir(mode=0o700)
        segs.write_text("start_s,end_s,label\n0.0,0.5,happy\n")
        os.chmod(segs, 0o600)
        runs = [["analyze", str(video), "-o", str(out / "new" / "deep" / "r.h5")],
                ["export", str(h5), "--csv", str(out / "exports" / "f.csv"), "--parquet", str(out / "exports" / "f.parquet")],
                ["export-mesh", str(h5), "--frame", "0", "-o", str(out / "exports" / "m.obj")],
                ["export-mesh", str(h5), "--range", "0:2", "-o", str(out / "exports" / "meshes")],
                ["segments", "export", str(segs), "-o", str(out / "exports" / "s.eaf")],
                ["segments", "export", str(segs), "-o", str(out / "exports" / "boris.csv")],
                ["report", str(h5), "--segments", str(segs), "--out", str(out / "exports" / "r.pdf"), "--no-model"]]
        for argv in runs:
            assert main(argv) == 0, (argv, capsys.readouterr().err)
        assert (out / "ws" / "workspace.sqlite-wal").exists()
    wide = {k: oct(m) for k, m in _modes(out).items() if k != "." and m & 0o077}
    assert wide == {}, f"readable by others: {wide}"
    modes = _modes(out)
    assert modes["ws"] == 0o700 and modes["ws/workspace.sqlite"] == 0o600 and modes["new/deep"] == 0o700
    assert modes["new/deep/r.h5"] == 0o600 and modes["exports/meshes"] == 0o700


def test_an_older_world_readable_workspace_is_tightened_on_open(tmp_path):
    from facelens.core.workspace import Workspace

    Workspace.open(tmp_path / "ws").close()
    os.chmod(tmp_path / "ws", 0o755)
    os.chmod(tmp_path / "ws" / "workspace.sqlite", 0o644)
    os.chmod(tmp_path / "ws" / "analyses", 0o755)
    Workspace.open(tmp_path / "ws").close()
    m = _modes(tmp_path / "ws")
    assert (m["."], m["workspace.sqlite"], m["analyses"]) == (0o700, 0o600, 0o700)


# -- no network ------------------------------------------------------------------------------------
_AUDITED = textwrap.dedent("""
    import json, sys
    events = []
    def hook(event, args):
        if event.startswith("socket.") and event not in ("socket.gethostname", "socket.sethostname"):
            events.append([event, repr(args)[:200]])
    sys.addaudithook(hook)
    log, what, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    try:
        if what == "cli":
            from facelens.cli import main
            code = main(argv)
        else:  # GUI start-up: the main window on a workspace, shown, events processed, closed
            from PySide6.QtCore import QSettings, QTimer
            from PySide6.QtWidgets import QApplication
            import vispy
            app = QApplication([])
            vispy.use(app="pyside6")
            from facelens.gui.main_window import MainWindow
            w = MainWindow(QSettings(argv[1], QSettings.Format.IniFormat))
            w.show()
            code = 0 if w.open_workspace(argv[0]) else 1
            QTimer.singleShot(500, app.quit)
            app.exec()
            w.force_quit = True
            w.close()
    finally:
        with open(log, "w") as f:
            json.dump(events, f)
    sys.exit(code)
""")


def _offline(tmp: Path, what: str, *argv: str) -> tuple[subprocess.CompletedProcess, list]:
    if subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False).returncode == 0:
        prefix = ["unshare", "-n"]
    elif subprocess.run(["unshare", "-rn", "true"], capture_output=True, check=False).returncode == 0:
        prefix = ["unshare", "-rn"]  # an unprivileged user namespace: same effect
    else:
        pytest.skip("cannot create a network namespace here (unshare -n / -rn refused)")
    log = tmp / f"sockets-{what}-{len(list(tmp.glob('sockets-*')))}.json"
    proc = subprocess.run([*prefix, sys.executable, "-c", _AUDITED, str(log), what, *argv],
                          capture_output=True, text=True, timeout=600, check=False)
    return proc, json.loads(log.read_text()) if log.exists() else [["no log", proc.stderr[-500:]]]


@pytest.mark.slow
def test_analysis_report_and_gui_start_work_offline_without_sockets(tmp_path, media):
    check = subprocess.run(["unshare", "-n", "python3", "-c",
                            "import socket; print(len(socket.if_nameindex()))"], capture_output=True, text=True, check=False)
    if check.returncode == 0:
        assert check.stdout.strip() == "1"  # only the (down) loopback interface: really no network
    video = _face_video(tmp_path, media)
    h5 = tmp_path / "r.h5"
    proc, events = _offline(tmp_path, "cli", "analyze", str(video), "-o", str(h5))
    assert proc.returncode == 0 and events == [], (proc.stderr[-800:], events)
    (tmp_path / "s.csv").write_text("start_s,end_s,label\n0.0,0.5,happy\n")
    proc, events = _offline(tmp_path, "cli", "report", str(h5), "--segments", str(tmp_path / "s.csv"),
                            "--out", str(tmp_path / "r.pdf"))
    assert proc.returncode == 0 and events == [] and (tmp_path / "r.pdf").is_file(), (proc.stderr[-800:], events)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        pytest.skip("GUI start-up needs a display (run under xvfb-run, as `make test` does)")
    proc, events = _offline(tmp_path, "gui", str(tmp_path / "ws"), str(tmp_path / "gui.ini"))
    assert proc.returncode == 0 and events == [], (proc.stderr[-800:], events)


# -- logs and the de-identified report -------------------------------------------------------------
@pytest.mark.slow
def test_no_patient_identifier_or_video_path_in_logs(tmp_path, media, caplog, capsys):
    import logging

    from facelens.core.workspace import Workspace

    folder = tmp_path / "Roe Jane 1961"
    folder.mkdir()
    video = _face_video(folder, media, "Jane_Roe_intake.mp4")
    caplog.set_level(logging.DEBUG)
    with Workspace.open(tmp_path / "ws") as ws:
        sid = ws.import_session(video, PATIENT).id
        assert main(["analyze", str(video), "-o", str(ws.results_path_for(sid))]) == 0
    capsys.readouterr()
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in caplog.records)
    for secret in (PATIENT, "Jane_Roe", "Roe Jane", str(folder)):
        assert secret not in logged, secret


def test_deidentified_report_has_no_identifying_field_in_text_or_metadata(tmp_path, media):
    import pdfplumber

    from facelens.core.annotation.segments import Segment, write_segments_csv
    from facelens.core.diagnosis.simulate import simulate_cohort
    from facelens.report import build_report_for_files

    sim = simulate_cohort(tmp_path / "sim", 1, 1, seed=4)
    h5 = sim.parent / "sessions" / "sim0001.h5"
    segs = write_segments_csv([Segment(1.0, 20.0, "happy", author=ANNOTATOR, note="smiles"),
                               Segment(25.0, 40.0, "sad", author=ANNOTATOR)], tmp_path / "s.csv")
    common = {"patient_id": PATIENT, "session_date": DATE, "clinician": CLINICIAN, "use_model": False}
    full = build_report_for_files(h5, segs, tmp_path / "full.pdf", signed_by=SIGNER, **common)
    anon = build_report_for_files(h5, segs, tmp_path / "anon.pdf", include_identifying=False, signed_by=SIGNER,
                                  **common)
    secrets = (PATIENT, CLINICIAN, ANNOTATOR, SIGNER, DATE)

    def everything(pdf: Path) -> str:
        with pdfplumber.open(pdf) as doc:
            text = " ".join(page.extract_text() or "" for page in doc.pages)
            meta = json.dumps(doc.metadata, default=str)
        return " ".join([text, meta, pdf.read_bytes().decode("latin-1")])  # raw bytes: XMP, info dict

    shown = everything(full)
    assert all(s in shown for s in (PATIENT, CLINICIAN, DATE)), "the full report must show them"
    hidden = everything(anon)
    assert [s for s in secrets if s in hidden] == []
