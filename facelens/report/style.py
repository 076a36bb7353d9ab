"""Paragraph and table styles of the printed report, and number formatting."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
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
        "cell": ParagraphStyle("cell", parent=base, fontSize=7.6, leading=9.2),
        "cellb": ParagraphStyle("cellb", parent=base, fontName=bold, fontSize=7.6, leading=9.2),
        "title": ParagraphStyle("title", parent=base, fontName=bold, fontSize=16, leading=20, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=9.5, leading=12, textColor=MUTED,
                                   spaceAfter=6),
        "h1": ParagraphStyle("h1", parent=base, fontName=bold, fontSize=11.5, leading=14, spaceBefore=10,
                             spaceAfter=4, keepWithNext=1),
        "h2": ParagraphStyle("h2", parent=base, fontName=bold, fontSize=9, leading=11, spaceBefore=5,
                             spaceAfter=2, keepWithNext=1),
        "na": ParagraphStyle("na", parent=base, fontName=bold, textColor=WARN, borderColor=WARN, borderWidth=0.6,
                             borderPadding=4, backColor=colors.white, spaceBefore=4, spaceAfter=6),
        "box": ParagraphStyle("box", parent=base, fontSize=8.5, leading=11, borderColor=INK, borderWidth=0.8,
                              borderPadding=5, backColor=NOTE_BG, spaceBefore=4, spaceAfter=8),
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


def p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(text, styles()[style])


def table(rows: list[list[Any]], widths: list[float] | None = None, *, header_rows: int = 1,
          align_right_from: int = 1, zebra: bool = True, left_cols: tuple[int, ...] = (),
          small: bool = False) -> Table:
    """A print table: grey header, hairline rules, numbers right-aligned from column ``align_right_from``."""
    st = styles()
    data = []
    size = 6.8 if small else st["cell"].fontSize
    for r, row in enumerate(rows):
        cells = []
        for c, v in enumerate(row):
            right = c >= align_right_from and c not in left_cols
            if isinstance(v, str) and r >= header_rows and right and len(v) < 24 and not set(v) & set("<&\n"):
                cells.append(v)  # a plain number: a bare string is ~50x cheaper to lay out than a Paragraph
                continue
            if isinstance(v, str):
                style = st["cellb"] if r < header_rows else st["cell"]
                if small:
                    style = ParagraphStyle(f"s{style.name}", parent=style, fontSize=6.8, leading=8.2)
                if c >= align_right_from and c not in left_cols and r >= header_rows:
                    style = ParagraphStyle(f"r{style.name}", parent=style, alignment=2)
                v = Paragraph(v, style)
            cells.append(v)
        data.append(cells)
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
        ("LEFTPADDING", (0, 0), (-1, -1), 2 if small else 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2 if small else 3),
    ]
    if header_rows:
        cmds.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), HEAD_BG))
    if zebra:
        for r in range(header_rows + 1, len(rows), 2):
            cmds.append(("BACKGROUND", (0, r), (-1, r), colors.HexColor("#F7F7F7")))
    t.setStyle(TableStyle(cmds))
    return t
