"""Paragraph and table styles of the printed report, and number formatting."""
from __future__ import annotations

import math
import re
from functools import lru_cache
from typing import Any, NamedTuple

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Paragraph, Table, TableStyle

from facelens.report.flowables import register_fonts

INK = colors.HexColor("#1A1A1A")
MUTED = colors.HexColor("#555555")
RULE = colors.HexColor("#9A9A9A")
HEAD_BG = colors.HexColor("#E6E6E6")
NOTE_BG = colors.HexColor("#F2F2F2")
WARN = colors.HexColor("#8A1C1C")


@lru_cache(maxsize=1)
def styles() -> dict[str, ParagraphStyle]:
    font, bold = register_fonts()
    base = ParagraphStyle("body", fontName=font, fontSize=8.5, leading=11, textColor=INK)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.2, leading=9, textColor=MUTED, spaceBefore=2),
        # splitLongWords=0: reportlab never cuts a word in a cell; _fit_cell shrinks what would not fit
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.6, leading=9.2, splitLongWords=0),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=bold, fontSize=7.6, leading=9.2, splitLongWords=0),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=16, leading=20, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=9.5, leading=12, textColor=MUTED,
                                   spaceAfter=6),
        "h1": ParagraphStyle("h1", parent=base, fontName=bold, fontSize=11.5, leading=14, spaceBefore=10,
                             spaceAfter=4, keepWithNext=1),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=9, leading=11, spaceBefore=5,
                             spaceAfter=2, keepWithNext=1),
        # Framed paragraphs: reportlab draws the frame borderPadding outside the text, so the text is
        # indented by it and the frame lines up with the tables' edges (the text column).
        "na": ParagraphStyle("na", parent=base, fontName=bold, textColor=WARN, borderColor=WARN, borderWidth=0.6,
                             borderPadding=4, leftIndent=4, rightIndent=4, backColor=colors.white,
                             spaceBefore=8, spaceAfter=8),
        "box": ParagraphStyle("box", parent=base, fontSize=8.5, leading=11, borderColor=INK, borderWidth=0.8,
                              borderPadding=5, leftIndent=5, rightIndent=5, backColor=NOTE_BG,
                              spaceBefore=9, spaceAfter=10),
        "warn": ParagraphStyle("warn", parent=base, fontName=bold, textColor=WARN, spaceBefore=4, spaceAfter=3),
        "big": ParagraphStyle("big", parent=base, fontName=bold, fontSize=11, leading=14, spaceAfter=2),
    }


def fmt(x: Any, digits: int = 3) -> str:
    """A number for print: fixed digits, "—" when missing or not finite (never "nan")."""
    if x is None:
        return "—"
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(xf):
        return "—"
    return f"{xf:.{digits}f}"


def pm(mean: float, sd: float, digits: int = 3) -> str:
    """``mean ± SD`` (SD "—" when undefined)."""
    return f"{fmt(mean, digits)} ± {fmt(sd, digits)}" if math.isfinite(mean) else "—"


def prob(x: float) -> str:
    """A probability for print: 3 decimals, but never a bare 0.000 or 1.000 for a tiny/huge value."""
    if not math.isfinite(x):
        return "—"
    if x < 0.0005:
        return "< 0.001"
    if x > 0.9995:
        return "> 0.999"
    return f"{x:.3f}"


def pct(x: float, digits: int = 1) -> str:
    return "—" if not math.isfinite(x) else f"{100.0 * x:.{digits}f} %"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class BoxParagraph(Paragraph):
    """A framed paragraph that moves to the next page whole instead of being cut in two frames
    (it still splits when it is taller than a whole page)."""

    def split(self, avail_w: float, avail_h: float) -> list[Any]:
        frame = getattr(self, "_frame", None)
        if frame is not None and not getattr(frame, "_atTop", 0):
            return []
        return super().split(avail_w, avail_h)


FRAMED = ("na", "box")


def p(text: str, style: str = "body") -> Paragraph:
    return (BoxParagraph if style in FRAMED else Paragraph)(text, styles()[style])


MIN_CELL_SIZE = 5.6  # pt: the smallest font a cell shrinks to before its long tokens get a line break
BREAK_AFTER = "-/+_,"
_TAG = re.compile(r"<[^>]*>")
_BR = re.compile(r"<br\s*/?>")
_SPACE = re.compile(r"[ \t\n\r]+")  # where a paragraph may break a line (a no-break space joins)


def _tokens(markup: str) -> list[str]:
    return [t for t in _SPACE.split(plain(markup)) if t]


def plain(markup: str) -> str:
    """The text of a cell's paragraph markup (tags removed, entities back to characters)."""
    text = _TAG.sub("", _BR.sub(" ", markup))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def name_width(markup: str, size: float) -> float:
    """Width in points of a cell's text on one line at ``size`` in the cell font."""
    return stringWidth(plain(markup), styles()["cell"].fontName, size)


def _widest(markup: str, font: str, size: float) -> float:
    return max((stringWidth(t, font, size) for t in _tokens(markup)), default=0.0)


def _break_long(markup: str, font: str, size: float, avail: float) -> str:
    """Line breaks after '-', '/', '+', '_' or ',' inside tokens that are wider than ``avail``."""
    for token in _tokens(markup):
        if stringWidth(token, font, size) <= avail or escape(token) not in markup:
            continue
        pieces = re.findall(rf"[^{re.escape(BREAK_AFTER)}]*[{re.escape(BREAK_AFTER)}]?", token)
        lines, line = [], ""
        for piece in filter(None, pieces):
            if line and stringWidth(line + piece, font, size) > avail:
                lines.append(line)
                line = ""
            line += piece
        lines.append(line)
        markup = markup.replace(escape(token), "<br/>".join(escape(x) for x in lines))
    return markup


def fit_cell(markup: str, style: ParagraphStyle, avail: float) -> tuple[str, ParagraphStyle]:
    """Markup and style for a table cell ``avail`` points wide in which no word is cut.

    Lines break only at spaces. A token wider than the cell (a model name, a version string) first
    makes the cell's font smaller, down to :data:`MIN_CELL_SIZE`; one still too wide gets a line
    break after one of :data:`BREAK_AFTER`, never inside a run of letters or digits.
    """
    font = style.fontName
    if "<b>" in markup and style.fontName == styles()["cell"].fontName:
        font = styles()["cellb"].fontName  # measure the bold face where the markup asks for it
    size = style.fontSize
    while _widest(markup, font, size) > avail and size > MIN_CELL_SIZE:
        size = max(MIN_CELL_SIZE, round(size - 0.2, 1))
    style = _resized(style, size)
    if _widest(markup, font, size) > avail:
        markup = _break_long(markup, font, size, avail)
    return markup, style


class _Pending(NamedTuple):
    markup: str
    style: ParagraphStyle


def _resized(style: ParagraphStyle, size: float) -> ParagraphStyle:
    if size == style.fontSize:
        return style
    return ParagraphStyle(f"{style.name}{size:g}", parent=style, fontSize=size,
                          leading=size * style.leading / style.fontSize)


def table(rows: list[list[Any]], widths: list[float] | None = None, *, header_rows: int = 1,
          align_right_from: int = 1, zebra: bool = True, left_cols: tuple[int, ...] = (),
          small: bool = False, full_rows: tuple[int, ...] = ()) -> Table:
    """A print table: grey header, hairline rules, numbers right-aligned from column ``align_right_from``
    (their headers too). Rows in ``full_rows`` are one cell across the whole width. No cell cuts a
    word or lets text run out of it: see :func:`fit_cell`."""
    st = styles()
    data = []
    size = 6.8 if small else st["cell"].fontSize
    pad = 2 if small else 3
    fitted: list[tuple[Any, ...]] = []  # bare strings that need a smaller font to stay inside their cell
    for r, row in enumerate(rows):
        cells: list[Any] = []
        for c, v in enumerate(row):
            right = c >= align_right_from and c not in left_cols
            avail = (sum(widths) if r in full_rows else widths[c]) - 2 * pad if widths else None
            if isinstance(v, str) and r >= header_rows and right and len(v) < 24 and not set(v) & set("<&\n"):
                cells.append(v)  # a plain number: a bare string is ~50x cheaper to lay out than a Paragraph
                if avail is not None and stringWidth(v, st["cell"].fontName, size) > avail:
                    # a number cannot wrap: it shrinks until it fits (no floor: never into the next cell)
                    fit = size * avail / stringWidth(v, st["cell"].fontName, size)
                    fitted.append(("FONTSIZE", (c, r), (c, r), math.floor(fit * 10) / 10))
                continue
            if isinstance(v, str):
                style = st["cellb"] if r < header_rows else st["cell"]
                if small:
                    style = ParagraphStyle(f"s{style.name}", parent=style, fontSize=6.8, leading=8.2)
                if right and r not in full_rows:
                    style = ParagraphStyle(f"r{style.name}", parent=style, alignment=2)
                if avail is not None:
                    v, style = fit_cell(v, style, avail)
                v = _Pending(v, style)  # made a Paragraph below, once the header's font size is known
            cells.append(v)
        data.append(cells)
    for r, cells in enumerate(data):
        # a header row has one font size: that of its most shrunk cell
        pending = [c for c in cells if isinstance(c, _Pending)]
        head = min((c.style.fontSize for c in pending), default=0.0) if r < header_rows else 0.0
        data[r] = [Paragraph(c.markup, _resized(c.style, head) if head else c.style) if isinstance(c, _Pending)
                   else c for c in cells]
    t = Table(data, colWidths=widths, repeatRows=header_rows, hAlign="LEFT")
    cmds: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTNAME", (0, 0), (-1, -1), st["cell"].fontName),
        ("FONTSIZE", (0, 0), (-1, -1), size),
        ("LEADING", (0, 0), (-1, -1), size + 1.6),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("ALIGN", (align_right_from, header_rows), (-1, -1), "RIGHT"),
        ("LINEABOVE", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.6, INK),
        ("LINEBELOW", (0, -1), (-1, -1), 0.8, INK),
        ("TOPPADDING", (0, 0), (-1, -1), 1.6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.6),
        ("LEFTPADDING", (0, 0), (-1, -1), pad),
        ("RIGHTPADDING", (0, 0), (-1, -1), pad),
        *fitted,
        *(("SPAN", (0, r), (-1, r)) for r in full_rows),
    ]
    if header_rows:
        cmds.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), HEAD_BG))
    if zebra:
        for r in range(header_rows + 1, len(rows), 2):
            cmds.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#F7F7F7")))
    t.setStyle(TableStyle(cmds))
    return t
