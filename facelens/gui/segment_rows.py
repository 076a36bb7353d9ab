"""The segment table's rows: columns, per-segment valence/arousal statistics and the row's items (Qt items,
no widget): what :class:`facelens.gui.segment_panel.SegmentPanel` shows for each segment."""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidgetItem

from facelens.core.annotation import exclusions
from facelens.render.colors import label_color, lighten

# The statistics come right after the label: at 1366 px the table's first six columns (up to n) stay
# visible without scrolling; length, scenario, author and note follow.
COLUMNS = ("Start", "End", "Label", "Valence", "Arousal", "n", "Length", "Scenario", "Author", "Note")
HEADER_TIPS = {"Start": "segment start, seconds", "End": "segment end, seconds", "Length": "seconds",
               "Valence": "mean ± SD over the segment's usable frames", "Arousal": "mean ± SD over usable frames",
               "n": "usable frames in the segment"}
COL = {name: i for i, name in enumerate(COLUMNS)}


def segment_va(seg: Any, t: np.ndarray, valence: np.ndarray, arousal: np.ndarray,
               usable: np.ndarray) -> tuple[float, float, float, float, int]:
    """Mean and SD of valence and arousal over a segment's usable frames: (mv, sv, ma, sa, n)."""
    m = (t >= seg.start_s) & (t < seg.end_s) & usable & np.isfinite(valence) & np.isfinite(arousal)
    n = int(m.sum())
    if n == 0:
        return (np.nan, np.nan, np.nan, np.nan, 0)
    v, a = valence[m].astype(np.float64), arousal[m].astype(np.float64)
    ddof = 1 if n > 1 else 0
    return (float(v.mean()), float(v.std(ddof=ddof)), float(a.mean()), float(a.std(ddof=ddof)), n)


def _pm(mean: float, sd: float) -> str:
    return "–" if not np.isfinite(mean) else f"{mean:+.2f}±{sd:.2f}"


class _NumItem(QTableWidgetItem):
    """Sorts by its number, not its text."""

    def __init__(self, text: str, value: float) -> None:
        super().__init__(text)
        self.setData(Qt.ItemDataRole.UserRole, float(value) if np.isfinite(value) else -1e9)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(Qt.ItemDataRole.UserRole), other.data(Qt.ItemDataRole.UserRole)
        return float(a) < float(b) if a is not None and b is not None else super().__lt__(other)


def row_items(s: Any, stats: tuple[float, float, float, float, int], flag: bool = False) -> list[QTableWidgetItem]:
    """The items of segment ``s``'s row in :data:`COLUMNS` order (each carries the segment id)."""
    mv, sv, ma, sa, n = stats
    items = [_NumItem(f"{s.start_s:.1f}", s.start_s), _NumItem(f"{s.end_s:.1f}", s.end_s),
             QTableWidgetItem(f"⚠ {s.label}" if flag else s.label), _NumItem(_pm(mv, sv), mv),
             _NumItem(_pm(ma, sa), ma),
             _NumItem(str(n), n), _NumItem(f"{s.duration_s:.1f}", s.duration_s),
             QTableWidgetItem(s.scenario), QTableWidgetItem(s.author), QTableWidgetItem(s.note)]
    items[COL["Label"]].setBackground(QColor(lighten(label_color(s.label), 0.5)))
    # A colour swatch too: the selected row (a new segment is selected) hides the background.
    items[COL["Label"]].setData(Qt.ItemDataRole.DecorationRole, QColor(label_color(s.label)))
    if flag:
        items[COL["Label"]].setToolTip("Overlaps a segment of another label (allowed by the label set, flagged)")
    elif exclusions.is_exclusion(s):
        items[COL["Label"]].setToolTip("Excluded by the reviewer: these frames are left out of every statistic")
    for it in items:
        it.setData(Qt.ItemDataRole.UserRole + 1, s.id)
    return items
