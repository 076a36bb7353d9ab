"""The valence–arousal circumplex: the session's trajectory with the current point highlighted.

Russell's circumplex puts valence on x and arousal on y, both in [−1, 1]. The whole trajectory is drawn
faintly, the last few seconds before the playhead darker, and the current frame as a large dot.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from facelens.gui.timeline import cache_static
from facelens.render.colors import VALENCE_HEX

RECENT_S = 5.0  # the darker tail: the last five seconds before the playhead


class CircumplexWidget(QWidget):
    """Valence (x) × arousal (y) plot with the trajectory and the playhead's point."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)
        p = self.plot.getPlotItem()
        p.setAspectLocked(True)
        p.setXRange(-1.1, 1.1, padding=0)
        p.setYRange(-1.1, 1.1, padding=0)
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        # The locked aspect widens the view in a wide dock; ticks only on the scale's -1..1 so the
        # empty margins do not read as valence values of ±5.
        ticks = [[(v, f"{v:g}") for v in (-1.0, -0.5, 0.0, 0.5, 1.0)]]
        p.getAxis("bottom").setTicks(ticks)
        p.getAxis("left").setTicks(ticks)
        p.setLabel("bottom", "valence")
        p.setLabel("left", "arousal")
        theta = np.linspace(0, 2 * np.pi, 181)
        grid = pg.mkPen("#BBBBBB", width=1, style=Qt.PenStyle.DashLine)
        p.plot(np.cos(theta), np.sin(theta), pen=pg.mkPen("#888888", width=1))
        p.addLine(x=0, pen=grid)
        p.addLine(y=0, pen=grid)
        for text, x, y in (("excited", 0.72, 0.72), ("calm", 0.72, -0.72), ("tense", -0.72, 0.72),
                           ("sad", -0.72, -0.72)):
            item = pg.TextItem(text, color="#8A8A8A", anchor=(0.5, 0.5))
            item.setPos(x, y)
            p.addItem(item)
        self.all_curve = p.plot(pen=pg.mkPen(200, 200, 210, 255, width=1), connect="finite")
        cache_static(self.all_curve)  # the whole trajectory never changes during playback
        self.recent_curve = p.plot(pen=pg.mkPen(VALENCE_HEX, width=2), connect="finite")
        self.point = pg.ScatterPlotItem(size=14, brush=pg.mkBrush("#C62828"), pen=pg.mkPen("w", width=2))
        p.addItem(self.point)
        self._t = np.zeros(0)
        self._v = np.zeros(0)
        self._a = np.zeros(0)

    def set_series(self, t: np.ndarray, valence: np.ndarray, arousal: np.ndarray, usable: np.ndarray) -> None:
        """The whole trajectory (unusable frames are gaps)."""
        self._t = np.asarray(t, np.float64)
        self._v = np.where(usable, valence, np.nan).astype(np.float64)
        self._a = np.where(usable, arousal, np.nan).astype(np.float64)
        self.all_curve.setData(self._v, self._a)

    def set_time(self, t: float) -> None:
        """Highlight the frame at the playhead and the few seconds before it."""
        if not len(self._t):
            self.point.setData([], [])
            self.recent_curve.setData([], [])
            return
        i = int(np.clip(np.searchsorted(self._t, t, side="right") - 1, 0, len(self._t) - 1))
        j = int(np.searchsorted(self._t, self._t[i] - RECENT_S))
        self.recent_curve.setData(self._v[j : i + 1], self._a[j : i + 1])
        v, a = self._v[i], self._a[i]
        if np.isfinite(v) and np.isfinite(a):
            self.point.setData([v], [a])
        else:
            self.point.setData([], [])
