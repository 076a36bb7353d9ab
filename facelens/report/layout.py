"""Page layout of the report and :func:`build_pdf` (written atomically: temp file + rename)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.units import mm
from reportlab.platypus import BaseDocTemplate, CondPageBreak, Frame, KeepTogether, PageTemplate, Table

from facelens.core import report_content as rc
from facelens.report.render_sections import RENDERERS
from facelens.report.style import INK, MUTED, RULE, escape, p, styles

PAGE_SIZES = {"A4": A4, "LETTER": LETTER}
MARGIN = 15 * mm
FOOTER_H = 19 * mm
BOTTOM = FOOTER_H + 6 * mm  # lowest line of the text column (the footer sits below it)
BIG = 10_000.0  # an unbounded height for measuring a flowable


class ReportError(Exception):
    """The PDF could not be written (one-line message)."""


def _footer_lines(content: rc.ReportContent) -> list[str]:
    models = [f"{mid} {sha[:16]}…" for mid, sha in content.model_hashes] or ["none recorded"]
    half = (len(models) + 1) // 2
    return [f"Video SHA-256: {content.video_sha256 or 'not recorded'}",
            "Models, SHA-256 (first 16 hex digits; full values under 'Models used'): " + ";  ".join(models[:half]),
            ";  ".join(models[half:])]


def _draw_footer(content: rc.ReportContent, page_size: tuple[float, float]) -> Any:
    font = styles()["body"].fontName
    w, _ = page_size
    lines = _footer_lines(content)

    def footer(canv: Any, page: int, total: int) -> None:
        canv.saveState()
        canv.setStrokeColor(RULE)
        canv.setLineWidth(0.5)
        canv.line(MARGIN, FOOTER_H, w - MARGIN, FOOTER_H)
        canv.setFillColor(INK)
        canv.setFont(font, 7.5)
        canv.drawString(MARGIN, FOOTER_H - 9, f"FaceLens report {content.report_id}")
        canv.drawCentredString(w / 2, FOOTER_H - 9, "Research / decision-support tool — not a diagnosis")
        canv.drawRightString(w - MARGIN, FOOTER_H - 9, f"Page {page} of {total}")
        canv.setFillColor(MUTED)
        for k, line in enumerate(lines):
            size = 6.2
            while canv.stringWidth(line, font, size) > w - 2 * MARGIN and size > 4.0:
                size -= 0.2
            canv.setFont(font, size)
            canv.drawString(MARGIN, FOOTER_H - 18 - 7 * k, line)
        canv.restoreState()

    return footer


def story(content: rc.ReportContent, width: float) -> list[Any]:
    """All flowables of the report: title, then each section with a numbered heading."""
    out: list[Any] = [p(escape(content.title), "title"), p(escape(content.subtitle), "subtitle")]
    numbered = 0
    for sec in content.sections:
        render = RENDERERS.get(type(sec))
        if render is None:
            continue
        number = 0
        if not isinstance(sec, (rc.HeaderSection, rc.DisclaimerSection)):
            numbered += 1
            number = numbered
        heading = [p(f"{number}. {escape(sec.title)}", "h1")] if number else []
        if sec.unavailable:
            body = [p(escape(sec.unavailable_text), "na")]
        else:
            body = render(sec, width)
        out += keep_with_next(heading + body, width)
    return out


def keep_with_next(blocks: list[Any], width: float) -> list[Any]:
    """``blocks`` with every run of keep-with-next blocks (headings, a warning that qualifies what
    follows) held on the page of the block after it, so that a page never ends on a heading.

    A short block (a table of up to :data:`WHOLE_TABLE_ROWS` rows, a card, a chart, a note) goes with
    its headings as one KeepTogether, to the next page together if it does not fit. A longer table
    only needs its start there: a CondPageBreak asks for room for the headings, the table's header
    and its first :data:`TABLE_START_ROWS` rows, and the table then splits across pages (header
    repeated). A KeepTogether for the whole of a long table would leave the rest of the page empty
    whenever the table is longer than that rest (a 60-segment session left pages 20 % full).
    """
    out: list[Any] = []
    i = 0
    while i < len(blocks):
        j = i
        while j < len(blocks) - 1 and blocks[j].getKeepWithNext():
            j += 1
        if j == i:
            out.append(blocks[i])
            i += 1
            continue
        heads, nxt = blocks[i:j], blocks[j]
        start = _table_start(nxt, width)
        if start is None:
            out.append(KeepTogether(_flat([*heads, nxt])))
        else:
            for h in heads:
                h.keepWithNext = 0  # held by the CondPageBreak instead of reportlab's KeepTogether
            out += [CondPageBreak(sum(_height(h, width) for h in heads) + start), *heads, nxt]
        i = j + 1
    return out


WHOLE_TABLE_ROWS = 10  # body rows: the model card (8), a 10-segment session's tables stay in one piece
TABLE_START_ROWS = 3


def _flat(blocks: list[Any]) -> list[Any]:
    """``blocks`` with every KeepTogether replaced by its content (kept together by the outer one).

    A KeepTogether inside a KeepTogether reports an "infinite" height to the outer one, which then
    always starts a new page: the section moved to the next page even when it fitted, leaving the
    page before it half empty.
    """
    out: list[Any] = []
    for b in blocks:
        out += _flat(list(b._content)) if isinstance(b, KeepTogether) else [b]
    return out


def _height(f: Any, width: float) -> float:
    return float(f.wrap(width, BIG)[1]) + f.getSpaceBefore() + f.getSpaceAfter()


def _table_start(f: Any, width: float) -> float | None:
    """Height of a long table's header and first rows; None for anything kept whole."""
    if not isinstance(f, Table):
        return None
    head = int(f.repeatRows) if isinstance(f.repeatRows, int) else 0
    if len(f._cellvalues) <= head + WHOLE_TABLE_ROWS:
        return None
    f.wrap(width, BIG)
    return float(sum(f._rowHeights[:head + TABLE_START_ROWS])) + f.getSpaceBefore()


def build_pdf(content: rc.ReportContent, out_path: str | os.PathLike[str], *, page_size: str = "A4") -> Path:
    """Render report content to a PDF file.

    Parameters
    ----------
    content
        From :mod:`facelens.core.report_content`.
    out_path
        Destination; written to a temporary file beside it and renamed when complete, so a
        failure never leaves a half-written PDF under this name.
    page_size
        ``"A4"`` (default) or ``"Letter"``.

    Raises
    ------
    ValueError
        Unknown page size.
    ReportError
        The destination cannot be written.
    """
    key = page_size.strip().upper()
    if key not in PAGE_SIZES:
        raise ValueError(f"page size must be A4 or Letter, got {page_size!r}")
    size = PAGE_SIZES[key]
    out = Path(out_path)
    if out.is_dir():
        raise ReportError(f"{out} is a folder; give a file name such as report.pdf")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ReportError(f"folder {parent} does not exist")
    from facelens.core.common.atomic import atomic_path

    try:
        with atomic_path(out) as tmp_path:
            _build(content, str(tmp_path), size)
    except OSError as exc:
        raise ReportError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def _build(content: rc.ReportContent, tmp: str, size: tuple[float, float]) -> None:
    """Lay out and write the whole PDF to ``tmp``."""
    doc = BaseDocTemplate(tmp, pagesize=size, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                          bottomMargin=BOTTOM, title=f"FaceLens report {content.report_id}",
                          author="FaceLens", subject=content.subtitle, creator=f"FaceLens {content.software_version}")
    width = size[0] - 2 * MARGIN
    # The text column is exactly the margins (no frame padding): the tables and charts, drawn
    # `width` wide, the framed boxes and the footer rule all start and end on the same two lines.
    frame = Frame(MARGIN, BOTTOM, width, size[1] - MARGIN - BOTTOM, leftPadding=0, rightPadding=0,
                  topPadding=0, bottomPadding=0, id="column")
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame], pagesize=size)])
    from facelens.report.flowables import numbered_canvas

    doc.build(story(content, width), canvasmaker=numbered_canvas(_draw_footer(content, size)))
