"""Valence and arousal over time, a segment strip, and the playhead cursor (pyqtgraph).

Three x-linked rows share one time axis: valence, arousal (both in [−1, 1], NaN frames drawn as gaps,
segments shaded behind) and a segment strip where research assistants drag out new segments and move or
resize existing ones by their edges (Shift+drag over a segment draws a new one across it). Clicking or dragging on a curve seeks; the wheel zooms the time axis
and a right-drag pans it. Hovering a gap tells why the frames were not usable.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QCursor
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from facelens.core.common.timeaxis import nearest_frame
from facelens.render.colors import AROUSAL_HEX, GAP_HEX, VALENCE_HEX, label_color

MIN_SEGMENT_S = 0.2  # drags shorter than this are clicks, not segments


def _luminance(r: float, g: float, b: float) -> float:
    """WCAG 2.1 relative luminance of an sRGB colour (components 0..1)."""
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def label_text_color(fill: QColor) -> str:
    """Black or white, whichever reads better on ``fill`` drawn over the strip's white background
    (a new segment is selected, drawn dark: black on dark blue had a contrast ratio of 3.4:1)."""
    a = fill.alphaF()
    bg = _luminance(*(a * c + (1.0 - a) for c in (fill.redF(), fill.greenF(), fill.blueF())))
    dark, light = 0.0056, 1.0  # luminance of #111111 and #FFFFFF
    return "#111111" if (bg + 0.05) / (dark + 0.05) >= (light + 0.05) / (bg + 0.05) else "#FFFFFF"


def cache_static(item: pg.PlotDataItem) -> None:
    """Keep a curve's pixels in a device-coordinate cache.

    During playback only the cursor moves, but every move invalidates a strip of the plot and Qt
    repaints whatever intersects it: with an 18,000-point curve (30 min at 10 fps) that is a full
    antialiased path per tick (≈25 ms per update in ``benchmarks/gui_playback.py --profile``). With
    the cache the strip is copied from a pixmap; the cache is redrawn only when the data or the view
    range (zoom, pan, resize) changes.
    """
    from PySide6.QtWidgets import QGraphicsItem

    for child in (item.curve, item.scatter):
        child.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


class _SeekViewBox(pg.ViewBox):
    """Left button seeks (click or drag), wheel zooms time only, right-drag pans time."""

    def __init__(self, owner: TimelineWidget, **kw: Any) -> None:
        super().__init__(**kw)
        self._owner = owner
        self.setMouseEnabled(x=True, y=False)

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._owner.seek_requested.emit(float(self.mapSceneToView(ev.scenePos()).x()))
        else:
            super().mouseClickEvent(ev)

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._owner.seek_requested.emit(float(self.mapSceneToView(ev.scenePos()).x()))
        elif ev.button() == Qt.MouseButton.RightButton:
            # Pan along time (pyqtgraph's own right-drag is a zoom; panning is what people expect here).
            ev.accept()
            dx = self.mapSceneToView(ev.lastScenePos()).x() - self.mapSceneToView(ev.scenePos()).x()
            self.translateBy(x=dx)
        else:
            super().mouseDragEvent(ev, axis)


class _SegmentViewBox(_SeekViewBox):
    """The segment strip: a left-drag on empty space draws a new segment."""

    def __init__(self, owner: TimelineWidget, **kw: Any) -> None:
        super().__init__(owner, **kw)
        self._draft: pg.LinearRegionItem | None = None

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            return super().mouseDragEvent(ev, axis)
        ev.accept()
        x0 = float(self.mapSceneToView(ev.buttonDownScenePos()).x())
        x1 = float(self.mapSceneToView(ev.scenePos()).x())
        if self._draft is None:
            self._draft = pg.LinearRegionItem((x0, x1), movable=False, brush=pg.mkBrush(120, 120, 120, 90))
            self.addItem(self._draft)
        self._draft.setRegion((min(x0, x1), max(x0, x1)))
        if ev.isFinish():
            self.removeItem(self._draft)
            self._draft = None
            lo, hi = max(0.0, min(x0, x1)), max(x0, x1)
            if hi - lo >= MIN_SEGMENT_S:
                self._owner.create_requested.emit(lo, hi)


class TimelineWidget(QWidget):
    """The synchronised valence / arousal / segments plots.

    Signals
    -------
    seek_requested(float)
        The user clicked or dragged to a time (s).
    create_requested(float, float)
        A new segment was dragged out on the segment strip.
    segment_edited(str, float, float)
        A segment's edges were dragged (id, start, end).
    segment_clicked(str)
        A segment was clicked (select it).
    """

    seek_requested = Signal(float)
    create_requested = Signal(float, float)
    segment_edited = Signal(str, float, float)
    segment_clicked = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        pg.setConfigOptions(antialias=True, background="w", foreground="#333333")
        self.glw = pg.GraphicsLayoutWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.glw)
        self.valence_plot = self._curve_plot(0, "Valence", VALENCE_HEX)
        self.arousal_plot = self._curve_plot(1, "Arousal", AROUSAL_HEX)
        self.segment_plot = self.glw.addPlot(row=2, col=0, viewBox=_SegmentViewBox(self))
        self.segment_plot.setLabel("left", "Segments")
        self.segment_plot.setLabel("bottom", "time", units="s")
        self.segment_plot.getAxis("left").setTicks([[]])
        self.segment_plot.setYRange(0, 1, padding=0)
        self.segment_plot.setMaximumHeight(70)
        self.segment_plot.setXLink(self.valence_plot)
        self.arousal_plot.setXLink(self.valence_plot)
        for p in (self.valence_plot, self.arousal_plot, self.segment_plot):
            p.getAxis("left").setWidth(54)
        self.valence_curve = self.valence_plot.plot(pen=pg.mkPen(VALENCE_HEX, width=1.6), connect="finite")
        self.arousal_curve = self.arousal_plot.plot(pen=pg.mkPen(AROUSAL_HEX, width=1.6), connect="finite")
        self.gap_items = [self._gap_item(p) for p in (self.valence_plot, self.arousal_plot)]
        for item in (self.valence_curve, self.arousal_curve, *self.gap_items):
            cache_static(item)
        self.cursors = [pg.InfiniteLine(0.0, angle=90, movable=True, pen=pg.mkPen("#C62828", width=2),
                                        hoverPen=pg.mkPen("#FF5252", width=3))
                        for _ in range(3)]
        for plot, cur in zip((self.valence_plot, self.arousal_plot, self.segment_plot), self.cursors):
            cur.setZValue(50)
            plot.addItem(cur, ignoreBounds=True)
            cur.sigDragged.connect(self._on_cursor_dragged)
        self._bands: list[pg.LinearRegionItem] = []
        self._regions: dict[str, pg.LinearRegionItem] = {}
        self._region_labels: dict[str, pg.TextItem] = {}
        self._label_spans: dict[str, tuple[str, float, float]] = {}  # id -> (label, start, end)
        self.segment_plot.getViewBox().sigXRangeChanged.connect(self._fit_labels)
        self.segment_plot.getViewBox().sigResized.connect(self._fit_labels)
        self._t = np.zeros(0)
        self._reason: Any = None
        self._duration = 1.0
        self.cursor_time = 0.0
        self.glw.scene().sigMouseMoved.connect(self._on_mouse_moved)
        # Qt's own tool-tip event (sent after the pointer rests) reaches the graphics view, whose scene
        # hides every tool tip no item claims: ours vanished before anyone could read it. The filter
        # answers that event over a gap with the reason.
        self.glw.viewport().installEventFilter(self)

    def _curve_plot(self, row: int, name: str, color: str) -> pg.PlotItem:
        plot = self.glw.addPlot(row=row, col=0, viewBox=_SeekViewBox(self))
        plot.setLabel("left", name, color=color)
        plot.setYRange(-1.05, 1.05, padding=0)
        plot.showGrid(x=True, y=True, alpha=0.15)
        plot.addLine(y=0, pen=pg.mkPen("#BBBBBB", width=1, style=Qt.PenStyle.DashLine))
        plot.getAxis("bottom").setStyle(showValues=False)
        return plot

    def _gap_item(self, plot: pg.PlotItem) -> pg.PlotDataItem:
        # Unusable frames: a grey tick row along the bottom of the plot (hover for the reason).
        item = pg.PlotDataItem(pen=None, symbol="s", symbolSize=4, symbolBrush=pg.mkBrush(GAP_HEX),
                               symbolPen=None)
        plot.addItem(item)
        return item

    # -- data ----------------------------------------------------------------------------------
    def set_series(self, t: np.ndarray, valence: np.ndarray, arousal: np.ndarray, usable: np.ndarray,
                   duration_s: float, reason_at: Any = None, keep_range: bool = False) -> None:
        """Show (or refresh, during an analysis) the curves; ``reason_at(i)`` explains gap frames."""
        self._t = np.asarray(t, dtype=np.float64)
        self._reason = reason_at
        self._duration = max(float(duration_s), float(self._t[-1]) if len(self._t) else 0.0, 0.1)
        v = np.where(usable, valence, np.nan)
        a = np.where(usable, arousal, np.nan)
        self.valence_curve.setData(self._t, v)
        self.arousal_curve.setData(self._t, a)
        gaps = self._t[~np.asarray(usable, bool)]
        for item in self.gap_items:
            item.setData(gaps, np.full(len(gaps), -0.98))
        for p in (self.valence_plot, self.arousal_plot, self.segment_plot):
            p.getViewBox().setLimits(xMin=-0.5, xMax=self._duration + 0.5)
        if not keep_range:
            self.valence_plot.setXRange(0.0, self._duration, padding=0.01)

    def set_segments(self, segments: Iterable[Any], selected_id: str | None = None) -> None:
        """Draw segments: editable regions in the strip, shaded bands behind the curves."""
        for band in self._bands:
            vb = band.getViewBox()
            if vb is not None:
                vb.removeItem(band)
        self._bands.clear()
        for rid, reg in list(self._regions.items()):
            self.segment_plot.removeItem(reg)
            self.segment_plot.removeItem(self._region_labels.pop(rid))
        self._regions.clear()
        self._label_spans.clear()
        for seg in segments:
            color = label_color(seg.label)
            for plot in (self.valence_plot, self.arousal_plot):
                shade = QColor(color)
                shade.setAlpha(45)  # light enough that the curve on top stays readable
                band = pg.LinearRegionItem((seg.start_s, seg.end_s), movable=False, brush=pg.mkBrush(shade))
                band.setZValue(-20)
                for line in band.lines:
                    line.setPen(pg.mkPen(None))
                plot.addItem(band, ignoreBounds=True)
                self._bands.append(band)
            sel = seg.id == selected_id
            c = QColor(color)
            c.setAlpha(200 if sel else 130)
            reg = pg.LinearRegionItem((seg.start_s, seg.end_s), brush=pg.mkBrush(c),
                                      pen=pg.mkPen("#222222" if sel else color, width=3 if sel else 1.5),
                                      hoverBrush=pg.mkBrush(QColor(color)))
            reg.setToolTip(f"{seg.label}: {seg.start_s:.1f}–{seg.end_s:.1f} s\n"
                           "drag the edges to resize, the middle to move; click to select;\n"
                           "Shift+drag draws a new segment over it (e.g. an exclusion)")
            reg.sigRegionChangeFinished.connect(lambda r, sid=seg.id: self._on_region_changed(sid, r))
            reg.mouseClickEvent = lambda ev, sid=seg.id: (ev.accept(), self.segment_clicked.emit(sid))
            reg.mouseDragEvent = self._region_drag(reg)
            self.segment_plot.addItem(reg, ignoreBounds=True)
            text = pg.TextItem(seg.label, color=label_text_color(c), anchor=(0, 0.5))
            text.setPos(seg.start_s, 0.5)
            self.segment_plot.addItem(text, ignoreBounds=True)
            self._regions[seg.id] = reg
            self._region_labels[seg.id] = text
            self._label_spans[seg.id] = (seg.label, float(seg.start_s), float(seg.end_s))
        self._fit_labels()

    def _fit_labels(self, *_: Any) -> None:
        """Each strip label within its own segment: elided when the segment is narrower than the
        label at the current zoom, hidden when not even a letter fits (the tooltip has it whole)."""
        from PySide6.QtCore import Qt as _Qt
        from PySide6.QtGui import QFontMetrics

        px = self.segment_plot.getViewBox().viewPixelSize()[0]
        if not px or not np.isfinite(px):
            return
        for rid, (label, lo, hi) in self._label_spans.items():
            text = self._region_labels[rid]
            room = int((hi - lo) / px) - 6
            metrics = QFontMetrics(text.textItem.font())
            shown = label if metrics.horizontalAdvance(label) <= room else metrics.elidedText(
                label, _Qt.TextElideMode.ElideRight, max(room, 0))
            text.setVisible(bool(shown) and shown != "…")
            if text.toPlainText() != shown:
                text.setText(shown)

    def _region_drag(self, reg: pg.LinearRegionItem) -> Any:
        """A segment's drag handler: a drag that starts with Shift held draws a new segment (the strip's
        own drag) instead of moving this one, so that an exclusion can be drawn across a segment. The
        choice is made when the drag starts and kept until it ends."""
        move = reg.mouseDragEvent
        strip = self.segment_plot.getViewBox()
        state = {"draw": False}

        def drag(ev: Any) -> None:
            if ev.isStart():
                state["draw"] = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            if state["draw"] and ev.button() == Qt.MouseButton.LeftButton:
                strip.mouseDragEvent(ev)
            else:
                move(ev)

        return drag

    def _on_region_changed(self, seg_id: str, region: pg.LinearRegionItem) -> None:
        lo, hi = region.getRegion()
        lo = max(0.0, float(lo))
        if hi - lo >= MIN_SEGMENT_S:
            self.segment_edited.emit(seg_id, lo, float(hi))

    # -- playhead ----------------------------------------------------------------------------
    def set_cursor(self, t: float, follow: bool = False) -> None:
        """Move the playhead cursor; with ``follow``, scroll the view to keep it visible."""
        self.cursor_time = float(t)
        for cur in self.cursors:
            cur.blockSignals(True)
            cur.setValue(t)
            cur.blockSignals(False)
        if follow:
            lo, hi = self.valence_plot.getViewBox().viewRange()[0]
            if not lo <= t <= hi:
                w = hi - lo
                self.valence_plot.setXRange(t - 0.1 * w, t + 0.9 * w, padding=0)

    def _on_cursor_dragged(self, line: pg.InfiniteLine) -> None:
        self.seek_requested.emit(float(line.value()))

    def visible_range(self) -> tuple[float, float]:
        lo, hi = self.valence_plot.getViewBox().viewRange()[0]
        return float(lo), float(hi)

    def gap_text_at(self, pos: QPointF) -> str:
        """Tool-tip text for a scene position over an excluded frame of the curves ('' elsewhere)."""
        if not len(self._t) or self._reason is None:
            return ""
        for plot in (self.valence_plot, self.arousal_plot):
            vb = plot.getViewBox()
            if vb.sceneBoundingRect().contains(pos):
                t = float(vb.mapSceneToView(pos).x())
                i = nearest_frame(self._t, t)
                why = self._reason(i)
                if why and abs(self._t[i] - t) < 0.5:
                    return f"{self._t[i]:.1f} s: frame excluded — {why}"
                return ""
        return ""

    def _on_mouse_moved(self, pos: QPointF) -> None:
        text = self.gap_text_at(pos)
        if text:
            QToolTip.showText(QCursor.pos(), text, self.glw)
        elif QToolTip.isVisible() and "frame excluded" in QToolTip.text():
            QToolTip.hideText()

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        if ev.type() == QEvent.Type.ToolTip and obj is self.glw.viewport():
            text = self.gap_text_at(self.glw.mapToScene(ev.pos()))
            if text:
                QToolTip.showText(ev.globalPos(), text, self.glw)
                return True
        return super().eventFilter(obj, ev)
