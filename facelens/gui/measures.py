"""Per-frame measures on the shared time axis: emotion probabilities, expression measures, head pose
and the quality track (pyqtgraph; x-linked to the valence/arousal timeline).

What the analysis computes per frame and the valence/arousal curves do not show: the seven emotion
probabilities, any expression measure (chosen from a list), yaw/pitch/roll of the head in degrees,
and the quality flag with its exclusion reason. Excluded frames are gaps (NaN) in every curve; the
quality track draws them as coloured ticks. Curves are set when a session opens; only the cursor
moves during playback (its line is the one item redrawn).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from facelens.core.common.types import QUALITY_LABELS, Quality
from facelens.gui.timeline import cache_static

VIEWS = ("Emotion probabilities", "Expression measure", "Head pose (degrees)", "Quality")
# Okabe–Ito colours (colour-blind safe), one per emotion / pose angle.
PALETTE = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000")


class MeasuresWidget(QWidget):
    """A plot of one chosen measure over time with the playhead cursor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view_box = QComboBox()
        self.view_box.addItems(VIEWS)
        self.view_box.setToolTip("Which per-frame measure to plot on the session's time axis")
        self.expr_box = QComboBox()
        self.expr_box.setToolTip("Expression measure (from the tracked face mesh) to plot")
        self.expr_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.expr_box.setMinimumContentsLength(12)
        self.note = QLabel("")
        self.note.setObjectName("measuresNote")
        self.note.setToolTip("What the plot shows")
        self.plot = pg.PlotWidget()
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setLabel("bottom", "time", units="s")
        self.legend = self.plot.addLegend(offset=(4, 4), labelTextSize="7pt")
        self.cursor = pg.InfiniteLine(0.0, angle=90, movable=False, pen=pg.mkPen("#C62828", width=2))
        self.cursor.setZValue(50)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        row = QHBoxLayout()
        row.setContentsMargins(4, 2, 4, 0)
        row.addWidget(self.view_box)
        row.addWidget(self.expr_box)
        row.addWidget(self.note, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(row)
        lay.addWidget(self.plot, 1)
        self.results: Any = None
        self.curves: list[pg.PlotDataItem] = []
        self.view_box.currentIndexChanged.connect(lambda _i: self.redraw())
        self.expr_box.currentIndexChanged.connect(lambda _i: self.redraw())

    def link_x(self, plot: pg.PlotItem) -> None:
        """Share the time axis (zoom and pan) with the valence/arousal timeline."""
        self.plot.getPlotItem().setXLink(plot)

    def set_results(self, results: Any) -> None:
        """Show the measures of an open ``SessionResults`` (``None``: a live or no session)."""
        self.results = results
        names = list(getattr(results, "expression_names", []) or [])
        self.expr_box.blockSignals(True)
        self.expr_box.clear()
        self.expr_box.addItems(names)
        self.expr_box.blockSignals(False)
        self.redraw()

    def set_cursor(self, t: float) -> None:
        self.cursor.setValue(float(t))

    def _clear(self) -> None:
        for c in self.curves:
            self.plot.removeItem(c)
        self.curves = []
        self.legend.clear()

    def _line(self, t: np.ndarray, y: np.ndarray, name: str, colour: str) -> None:
        c = self.plot.plot(t, y, pen=pg.mkPen(colour, width=1.4), name=name, connect="finite")
        cache_static(c)
        self.curves.append(c)

    def redraw(self) -> None:
        self._clear()
        self.plot.getPlotItem().getAxis("left").setTicks(None)
        r = self.results
        view = self.view_box.currentText()
        self.expr_box.setVisible(view == "Expression measure")
        if r is None or not r.n_frames:
            self.note.setText("shown once the session is analysed")
            return
        t = np.asarray(r.time_s, np.float64)
        ok = np.asarray(r.usable, bool)
        if view == "Emotion probabilities":
            if r.emotions is None:
                self.note.setText("this results file holds no emotion probabilities")
                return
            emo = np.where(ok[:, None], np.asarray(r.emotions, np.float64), np.nan)
            for k, name in enumerate(r.emotion_labels):
                self._line(t, emo[:, k], name, PALETTE[k % len(PALETTE)])
            self.plot.setYRange(0, 1, padding=0.02)
            self.note.setText("probability per sampled frame (excluded frames are gaps)")
        elif view == "Expression measure":
            j = self.expr_box.currentIndex()
            if j < 0:
                self.note.setText("no expression measures in this results file")
                return
            y = np.where(ok, np.asarray(r.expressions[:, j], np.float64), np.nan)
            self._line(t, y, self.expr_box.currentText(), PALETTE[4])
            self.plot.enableAutoRange(axis="y")
            self.note.setText("pose-free measure from the face mesh (units in docs/expressions.md)")
        elif view == "Head pose (degrees)":
            e = np.where(ok[:, None], np.asarray(r.euler, np.float64), np.nan)
            for k, name in enumerate(("yaw", "pitch", "roll")):
                self._line(t, e[:, k], name, PALETTE[k])
            self.plot.enableAutoRange(axis="y")
            self.note.setText("head rotation per sampled frame")
        else:
            self._quality(t, np.asarray(r.quality, np.int64))

    def _quality(self, t: np.ndarray, q: np.ndarray) -> None:
        """One row of ticks per exclusion reason (usable frames on the top row)."""
        reasons = [Quality.OK, Quality.MULTIPLE_FACES, Quality.NO_FACE, Quality.LOW_CONFIDENCE,
                   Quality.MOTION_BLUR, Quality.EXTREME_POSE, Quality.POOR_FIT]
        for row, code in enumerate(reasons):
            sel = q == int(code)
            if not sel.any():
                continue
            c = pg.PlotDataItem(t[sel], np.full(int(sel.sum()), float(len(reasons) - row)), pen=None,
                                symbol="s", symbolSize=5, symbolPen=None,
                                symbolBrush=pg.mkBrush(PALETTE[row % len(PALETTE)]),
                                name=f"{QUALITY_LABELS.get(code, str(code))} ({int(sel.sum())})")
            self.plot.addItem(c)
            cache_static(c)
            self.curves.append(c)
        self.plot.setYRange(0.5, len(reasons) + 0.5, padding=0)
        self.note.setText("quality flag per sampled frame; only the top two rows are used for affect")
        self.plot.getPlotItem().getAxis("left").setTicks([[]])
