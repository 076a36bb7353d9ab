"""reportlab building blocks: vector charts from matplotlib PDFs, images from arrays, page footer.

reportlab is imported here at module level: this module is only imported by ``build_pdf`` (which the
CLI imports lazily), never by a cheap command.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Flowable, Image

FONT = "FaceLensSans"
FONT_BOLD = "FaceLensSans-Bold"


def register_fonts() -> tuple[str, str]:
    """DejaVu Sans (shipped inside matplotlib): full Unicode (−, ±, →, ≥) and extractable text.

    Falls back to Helvetica if the font files cannot be found.
    """
    if FONT in pdfmetrics.getRegisteredFontNames():
        return FONT, FONT_BOLD
    try:
        import matplotlib

        d = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
        pdfmetrics.registerFont(TTFont(FONT, str(d / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(d / "DejaVuSans-Bold.ttf")))
        from reportlab.lib.fonts import addMapping

        addMapping(FONT, 0, 0, FONT)
        addMapping(FONT, 1, 0, FONT_BOLD)
        addMapping(FONT, 0, 1, FONT)
        addMapping(FONT, 1, 1, FONT_BOLD)
        return FONT, FONT_BOLD
    except Exception:  # noqa: BLE001 - any font problem: the standard fonts still print
        return "Helvetica", "Helvetica-Bold"


class VectorChart(Flowable):
    """A one-page PDF (a matplotlib figure) placed as a form XObject: stays vector in the report."""

    def __init__(self, pdf_bytes: bytes, width: float) -> None:
        super().__init__()
        from pdfrw import PdfReader
        from pdfrw.buildxobj import pagexobj

        page = PdfReader(fdata=pdf_bytes).pages[0]
        self._xobj = pagexobj(page)
        x0, y0, x1, y1 = (float(v) for v in self._xobj.BBox)
        self._scale = width / (x1 - x0)
        self.width, self.height = width, (y1 - y0) * self._scale

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        from pdfrw.toreportlab import makerl

        name = makerl(self.canv, self._xobj)
        self.canv.saveState()
        self.canv.scale(self._scale, self._scale)
        self.canv.doForm(name)
        self.canv.restoreState()


def chart(make: Callable[[], bytes], make_png: Callable[[], bytes], width: float) -> Flowable:
    """A chart as vector (pdfrw) or, if that is not installed, as a 200-dpi PNG."""
    try:
        return VectorChart(make(), width)
    except ImportError:
        png = make_png()
        img = ImageReader(io.BytesIO(png))
        w, h = img.getSize()
        return Image(io.BytesIO(png), width=width, height=width * h / w)


def array_image(rgb: np.ndarray, width: float) -> Image:
    """An RGB uint8 array as a reportlab Image of the given width (PNG inside the PDF)."""
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG", optimize=False)
    buf.seek(0)
    h, w = rgb.shape[:2]
    return Image(buf, width=width, height=width * h / w)


def numbered_canvas(footer: Callable[[Any, int, int], None]) -> type:
    """A canvas class that knows the page count when it draws footers ("page x of y").

    Pages are kept until the document is saved, then each gets its footer with the total.
    """

    class NumberedCanvas(rl_canvas.Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for i, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                footer(self, i, total)
                super().showPage()
            super().save()

    return NumberedCanvas
