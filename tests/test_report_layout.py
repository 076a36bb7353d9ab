"""The printed report's page layout: no half-empty pages, no page ending on a heading, no word of a
table cell cut across lines, every box, rule and text inside the one text column; on the demo session
(prediction refused), a simulated session (prediction given, interpretation signed) and one with 40
segments, on A4 and Letter."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pdfplumber
import pytest

from facelens.core import report_content as rc
from facelens.core.annotation.segments import Segment, write_segments_csv


def _simulated(tmp: Path) -> tuple[Path, Path]:
    from facelens.core.diagnosis.simulate import simulate_session, write_session

    s = simulate_session(np.random.default_rng(3), "BD")
    return write_session(tmp / "sim.h5", s, "S001"), write_segments_csv(s["segments"], tmp / "sim.csv")


def _layout(pdf: Path) -> dict[str, list]:
    """What the layout tests read from a PDF, in one pass of pdfplumber (about 1 s per report).

    ``fill``: per page, how far down the text column its lowest mark (text, rule, box, image) reaches,
    0..1; ``ends_on_heading``: pages whose last line above the footer is a numbered section heading;
    ``outside``: text, rules and boxes that leave the text column, and framed boxes whose edges are
    not the column's; ``words``: per page, pdfplumber's words (text and position).
    """
    from facelens.report.layout import BOTTOM, FOOTER_H, MARGIN

    out: dict[str, list] = {"fill": [], "ends_on_heading": [], "outside": [], "words": []}
    with pdfplumber.open(pdf) as doc:
        for i, page in enumerate(doc.pages, start=1):
            w, h = float(page.width), float(page.height)
            marks = page.chars + page.rects + page.lines + page.curves + page.images
            lowest = max((m["bottom"] for m in marks if m["bottom"] < h - FOOTER_H - 1), default=MARGIN)
            out["fill"].append((lowest - MARGIN) / (h - MARGIN - BOTTOM))
            body = page.crop((0, 0, w, h - FOOTER_H - 1)).extract_text() or ""
            lines = [ln.strip() for ln in body.splitlines() if ln.strip()]
            if not lines or re.fullmatch(r"\d{1,2}\. [A-Z].*", lines[-1]):
                out["ends_on_heading"].append(i)
            left, right = MARGIN, w - MARGIN
            for m in page.chars + page.lines + page.rects:
                if m["x0"] < left - 0.5 or m["x1"] > right + 0.5:
                    out["outside"].append(f"page {i}: {m.get('text', m['object_type'])} at x {m['x0']:.1f}–{m['x1']:.1f}")
            for r in page.rects:  # the framed notes (disclaimer, "not available") span the column exactly
                if r.get("stroke") and r["width"] > 0.3 * w and (abs(r["x0"] - left) > 0.5 or abs(r["x1"] - right) > 0.5):
                    out["outside"].append(f"page {i}: box at x {r['x0']:.1f}–{r['x1']:.1f}, column {left:.1f}–{right:.1f}")
            out["words"].append(page.extract_words(x_tolerance=1.5))
    return out


def _cell_words(content, width: float) -> set[str]:
    """Every word of every table cell of the report (model names, versions, hashes, header words)."""
    from reportlab.platypus import Paragraph, Table

    from facelens.report.layout import story
    from facelens.report.style import plain

    words: set[str] = set()

    def walk(f) -> None:
        for inner in getattr(f, "_content", []) or []:
            walk(inner)
        if isinstance(f, Table):
            for row in f._cellvalues:
                for cell in row:
                    for item in cell if isinstance(cell, (list, tuple)) else [cell]:
                        if isinstance(item, Table):
                            walk(item)
                        text = plain(item.text) if isinstance(item, Paragraph) else item
                        if isinstance(text, str):
                            words.update(re.split(r"[\s\u00a0]+", text))

    for f in story(content, width):
        walk(f)
    return {w for w in words if len(w) > 1}


def _cut_words(pages: list[list[dict]], words: set[str]) -> list[str]:
    """The words that the PDF does not print in one piece (a line break after '-', '/', '+', '_' or ','
    at the end of a line, with the rest on the next line below it, counts as one piece)."""
    from facelens.report.style import BREAK_AFTER

    printed: list[str] = []
    for pw in pages:
        printed += [w["text"] for w in pw]
        for a in pw:
            if a["text"][-1] in BREAK_AFTER:
                printed += [a["text"] + b["text"] for b in pw
                            if 0 < b["top"] - a["top"] < 2.0 * (a["bottom"] - a["top"]) and abs(b["x0"] - a["x0"]) < 40]
    joined = "\n".join(printed)
    return sorted(w for w in words if w not in joined)


@pytest.fixture(scope="module")
def layout_reports(demo_session, tmp_path_factory):
    """The demo session (the model refuses it) and a simulated session (the model predicts, the
    clinician's interpretation is filled in), each on A4 and Letter, and the simulated session with 40
    short segments on A4: (name, content, width, layout)."""
    from facelens.report.layout import MARGIN, PAGE_SIZES, build_pdf

    d = tmp_path_factory.mktemp("layout")
    h5, csv = _simulated(d)
    # 40 segments: the per-segment tables run over pages (a long table must not be held whole)
    many = write_segments_csv([Segment(1.4 * i, 1.4 * (i + 1), ("happy", "sad", "neutral")[i % 3])
                               for i in range(40)], d / "many.csv")
    inputs = {"demo": (demo_session.results, demo_session.segments_csv, rc.ReportOptions(patient_id="P001")),
              "prediction": (h5, csv, rc.ReportOptions(interpretation="Flat affect.\nSee the interview.",
                                                       signed_by="C12")),
              "40 segments": (h5, many, rc.ReportOptions())}
    out = []
    for name, (res, segs, opt) in inputs.items():
        content = rc.content_for_files(res, segs, opt)
        for size in ("A4", "Letter") if name != "40 segments" else ("A4",):
            pdf = build_pdf(content, d / f"{name}_{size}.pdf", page_size=size)
            out.append((f"{name} {size}", content, PAGE_SIZES[size.upper()][0] - 2 * MARGIN, _layout(pdf)))
    return out


def test_no_page_but_the_last_is_less_than_60_percent_full(layout_reports):
    for name, _, _, lay in layout_reports:
        fills = lay["fill"]
        assert len(fills) >= 3, name
        # 0.6: a section that does not fit in the rest of a page starts the next one; before, the
        # demo's page 3 ended at 50 % and a section always went to a new page after its heading group
        low = [f"page {i} {f:.0%}" for i, f in enumerate(fills[:-1], start=1) if f < 0.6]
        assert not low, f"{name}: {low}"
        assert not lay["ends_on_heading"], name


def test_table_cells_never_cut_a_word(layout_reports):
    for name, content, width, lay in layout_reports:
        words = _cell_words(content, width)
        models = content.section(rc.ModelsSection).models
        must = {m["id"] for m in models} | {m["sha256"] for m in models if m["sha256"]}
        must |= {w for m in models for w in m["version"].split() if len(w) > 1}
        assert must <= words and "Valence" in words and "inertia" in words  # the walk found the cells
        assert not _cut_words(lay["words"], words), name


def test_boxes_and_tables_stay_in_the_text_column(layout_reports):
    for name, _, _, lay in layout_reports:
        assert not lay["outside"][:5], name


def test_cell_fitting_shrinks_long_tokens_and_never_overflows():
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from facelens.report.style import MIN_CELL_SIZE, table

    long_id, version = "mediapipe-face-landmark-attention", "circumplex-warriner+geometry"
    very_long = "a" * 12 + "-" + "b" * 12 + "/" + "c" * 8  # wider than its cell even at the smallest font
    widths = [120.0, 100.0, 40.0]  # both names fit at 5.6 pt (about 100 and 88 pt wide), not at 7.6
    t = table([["Model", "Version", "Number"], [long_id, version, "-0.00591234"], ["x", very_long, "1"]],
              widths, align_right_from=2)
    t.wrap(sum(widths), 500)

    def lines(r: int, c: int) -> tuple[list[str], float, str]:
        para = t._cellvalues[r][c][0]
        bl = para.blPara  # kind 0: (extra space, words) per line; kind 1: FragLines of text fragments
        text = [" ".join(ln[1]) if bl.kind == 0 else "".join(f.text for f in ln.words) for ln in bl.lines]
        return text, para.style.fontSize, para.style.fontName

    for r, c in ((1, 0), (1, 1), (2, 1)):
        text, size, font = lines(r, c)
        assert MIN_CELL_SIZE <= size < 7.6  # shrunk, never below the floor
        assert all(stringWidth(x, font, size) <= widths[c] - 6 + 0.01 for x in text), (r, c, text, size)
    assert lines(1, 0)[0] == [long_id] and lines(1, 1)[0] == [version]  # whole, on one line
    text, size, _ = lines(2, 1)
    assert size == MIN_CELL_SIZE and "".join(text) == very_long and len(text) > 1
    assert all(x[-1] in "-/+_," for x in text[:-1])  # broken only after a separator
    cs = t._cellStyles[1][2]  # a bare number wider than its cell gets a smaller font
    assert stringWidth("-0.00591234", cs.fontname, cs.fontsize) <= widths[2] - 6 + 0.01
