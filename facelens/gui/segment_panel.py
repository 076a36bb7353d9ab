"""The segment table and editor: list, sort and jump to segments; edit label, scenario, note, author.

The panel shows segments and emits requests; the main window applies them through the annotation
model (``SegmentEditor``), which saves each change to the workspace at once and keeps the undo stack.
Each row shows the segment's mean ± SD valence and arousal over its usable frames (frames inside a
reviewer's exclusion, label ``exclude``, are not usable: :mod:`facelens.core.annotation.exclusions`).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from facelens.core.annotation import exclusions
from facelens.gui.segment_rows import COL, COLUMNS, HEADER_TIPS, row_items, segment_va

__all__ = ["COL", "COLUMNS", "SegmentPanel", "segment_va"]

class SegmentPanel(QWidget):
    """Table of segments plus a small editor for the selected one.

    Signals
    -------
    jump_requested(float)          double-click: seek to the segment's start
    selected(str)                  row selected (segment id, '' for none)
    edit_requested(str, dict)      fields to change: label / scenario / note
    delete_requested(str)
    sample_requested(str)          split the label's segments into 15-s clips ('' = all labels)
    """

    jump_requested = Signal(float)
    selected = Signal(str)
    edit_requested = Signal(str, dict)
    delete_requested = Signal(str)
    sample_requested = Signal(str)

    def __init__(self, labels: Iterable[str], scenarios: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for c, name in enumerate(COLUMNS):
            head = self.table.horizontalHeaderItem(c)
            if head is not None and name in HEADER_TIPS:
                head.setToolTip(HEADER_TIPS[name])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        # Chronological by default: Qt's header starts with a *descending* sort indicator, which
        # listed the latest segment first. The user's own choice (header click) is kept afterwards.
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().hide()
        # Compact rows (text height + a little air) instead of the style's ~30 px: at 1366×768 the
        # table then lists eight segments instead of six.
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        head.setStretchLastSection(True)
        # The first six columns get widths from their widest plausible text, not from the header with
        # its sort-arrow room (that made them ~460 px, more than the dock has at 1366 px); the user
        # can still drag them wider.
        fm = self.table.fontMetrics()
        for name, sample in (("Start", "999.9"), ("End", "999.9"), ("Label", "neutral"),
                             ("Valence", "+0.00±0.00"), ("Arousal", "+0.00±0.00"), ("n", "999")):
            c = COL[name]
            head.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
            self.table.setColumnWidth(c, fm.horizontalAdvance(sample) + 12)
        self.table.setToolTip("Double-click a segment to jump to it. Mean ± SD over usable frames.")
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.cellDoubleClicked.connect(self._on_double_click)
        self.label_box = QComboBox()
        self.label_box.addItems(list(labels))
        self.label_box.setEditable(True)
        self.scenario_box = QComboBox()
        self.scenario_box.addItems([""] + list(scenarios))
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("free-text note")
        self.label_box.setToolTip("Label of the selected segment (happy / sad / neutral by default; "
                                  "the label set is configured in resources/)")
        self.scenario_box.setToolTip("Scenario during the selected segment")
        self.note_edit.setToolTip("Free-text note on the selected segment (saved when you leave the field)")
        # Plain text, not a read-only field that looks editable: the author is whoever made the segment.
        self.author_edit = QLabel("")
        self.author_edit.setToolTip("Who created the segment (your name: Edit ▸ Preferences ▸ Annotator)")
        self.start_box, self.end_box = QDoubleSpinBox(), QDoubleSpinBox()
        for box, what in ((self.start_box, "start"), (self.end_box, "end")):
            box.setRange(0.0, 86400.0)
            box.setMinimumWidth(70)
            box.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)  # never widens the dock
            box.setDecimals(2)
            box.setSuffix(" s")
            box.setKeyboardTracking(False)
            box.setToolTip(f"Type the segment's {what} time; it is moved to the nearest sampled frame")
            box.lineEdit().setToolTip(box.toolTip())
            box.editingFinished.connect(self._emit_times)
        for w in (self.label_box, self.scenario_box):
            w.activated.connect(lambda *_: self._emit_edit())
        self.label_box.lineEdit().editingFinished.connect(self._emit_edit)
        self.note_edit.editingFinished.connect(self._emit_edit)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected segment (Del; undo with Ctrl+Z)")
        self.delete_button.clicked.connect(self._on_delete)
        self.sample_button = QPushButton("Sample 15-s clips")
        self.sample_button.setToolTip("Split the selected label's segments into 15-s clips at 10 fps "
                                      "(the seed paper's protocol); shorter remainders are not kept")
        self.sample_button.clicked.connect(self._on_sample)
        form = QFormLayout()
        times = QHBoxLayout()
        times.addWidget(self.start_box)
        times.addWidget(QLabel("to"))
        times.addWidget(self.end_box)
        form.addRow("Time", times)
        form.addRow("Label", self.label_box)
        form.addRow("Scenario", self.scenario_box)
        form.addRow("Note", self.note_edit)
        form.addRow("Author", self.author_edit)
        row = QHBoxLayout()
        row.addWidget(self.delete_button)
        row.addStretch(1)
        row.addWidget(self.sample_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.table, 1)
        self.baseline = QLabel("")  # the neutral segments far from the baseline (set_baseline)
        self.baseline.setObjectName("segmentsBaseline")
        self.baseline.setWordWrap(True)
        self.baseline.setStyleSheet("color: #8A4B00;")
        self.baseline.hide()
        lay.addWidget(self.baseline)
        lay.addLayout(form)
        lay.addLayout(row)
        self._segments: dict[str, Any] = {}
        self._shown: dict[str, tuple] = {}  # segment id -> what its row shows
        self._stats: dict[tuple[float, float], tuple[float, float, float, float, int]] = {}
        self._data_key: tuple = ()
        self.rows_written = 0
        self._current: str = ""
        self._filling = False
        self._set_editor_enabled(False)

    # -- content ---------------------------------------------------------------------------------
    def set_segments(self, segments: Iterable[Any], t: np.ndarray, valence: np.ndarray, arousal: np.ndarray,
                     usable: np.ndarray, selected_id: str | None = None, flagged: set[str] | None = None) -> None:
        """Show ``segments``, touching only the rows that changed.

        An edit changes one segment; rebuilding every row (and recomputing every segment's statistics)
        made each edit cost O(segments × frames) and reset the view. Rows are matched by segment id:
        removed ids lose their row, new ids get one, and a row is rewritten only when what it shows
        differs (:attr:`rows_written` counts rewrites, for tests). ``flagged``: ids of segments that
        overlap a segment of another label (marked ⚠ when the label set's rule is "flag").
        """
        flagged = flagged or set()
        segs = list(segments)
        self._segments = {s.id: s for s in segs}
        cut = tuple(sorted((s.start_s, s.end_s) for s in segs if exclusions.is_exclusion(s)))
        usable = exclusions.apply(t, usable, segs)[0]  # a reviewer's exclusions count as unusable frames
        data_key = (len(t), float(t[0]) if len(t) else 0.0, float(t[-1]) if len(t) else 0.0, cut)
        if data_key != self._data_key:  # another session, a live analysis added frames, exclusions changed
            self._data_key, self._stats = data_key, {}
        self._filling = True
        self.table.setSortingEnabled(False)
        gone = sorted((r for sid, r in self._rows_by_id().items() if sid not in self._segments), reverse=True)
        for r in gone:
            self.table.removeRow(r)
        rows = self._rows_by_id()
        shown: dict[str, tuple] = {}
        for s in segs:
            span = (s.start_s, s.end_s)
            stats = self._stats.get(span)
            if stats is None:
                stats = self._stats[span] = segment_va(s, t, valence, arousal, usable)
            key = (s.start_s, s.end_s, s.label, s.scenario, s.author, s.note, stats, s.id in flagged)
            shown[s.id] = key
            r = rows.get(s.id)
            if r is None:
                r = self.table.rowCount()
                self.table.insertRow(r)
            elif self._shown.get(s.id) == key:
                continue
            self._fill_row(r, s, stats, s.id in flagged)
        self._shown = shown
        self.table.setSortingEnabled(True)
        self._filling = False
        self.select(selected_id or self._current)

    def _fill_row(self, r: int, s: Any, stats: tuple[float, float, float, float, int], flag: bool = False) -> None:
        for c, it in enumerate(row_items(s, stats, flag)):
            self.table.setItem(r, c, it)
        self.rows_written += 1

    def _rows_by_id(self) -> dict[str, int]:
        return {self._row_id(r): r for r in range(self.table.rowCount())}

    def select(self, seg_id: str | None) -> None:
        """Select a segment's row (or clear the selection)."""
        self._filling = True
        self.table.clearSelection()
        for r in range(self.table.rowCount()):
            it = self.table.item(r, 0)
            if seg_id and it is not None and it.data(Qt.ItemDataRole.UserRole + 1) == seg_id:
                self.table.selectRow(r)
                break
        self._filling = False
        self._show_editor(seg_id if seg_id in self._segments else "")

    def current_id(self) -> str:
        return self._current

    def row_count(self) -> int:
        return self.table.rowCount()

    # -- internals -------------------------------------------------------------------------------
    def _show_editor(self, seg_id: str) -> None:
        self._current = seg_id
        seg = self._segments.get(seg_id)
        self._filling = True
        self.label_box.setCurrentText(seg.label if seg else "")
        self.scenario_box.setCurrentText(seg.scenario if seg else "")
        self.note_edit.setText(seg.note if seg else "")
        self.author_edit.setText(seg.author if seg else "")
        self.start_box.setValue(seg.start_s if seg else 0.0)
        self.end_box.setValue(seg.end_s if seg else 0.0)
        self._filling = False
        self._set_editor_enabled(seg is not None)

    def _set_editor_enabled(self, on: bool) -> None:
        for w in (self.label_box, self.scenario_box, self.note_edit, self.author_edit, self.delete_button,
                  self.start_box, self.end_box):
            w.setEnabled(on)

    def _row_id(self, row: int) -> str:
        it = self.table.item(row, 0)
        return str(it.data(Qt.ItemDataRole.UserRole + 1)) if it is not None else ""

    def _on_selection(self) -> None:
        if self._filling:
            return
        rows = self.table.selectionModel().selectedRows()
        sid = self._row_id(rows[0].row()) if rows else ""
        self._show_editor(sid)
        self.selected.emit(sid)

    def _on_double_click(self, row: int, _col: int) -> None:
        seg = self._segments.get(self._row_id(row))
        if seg is not None:
            self.jump_requested.emit(float(seg.start_s))

    def _emit_edit(self) -> None:
        if self._filling or not self._current:
            return
        seg = self._segments.get(self._current)
        if seg is None:
            return
        fields = {"label": self.label_box.currentText().strip(), "scenario": self.scenario_box.currentText(),
                  "note": self.note_edit.text()}
        changed = {k: v for k, v in fields.items() if getattr(seg, k) != v}
        if changed.get("label", None) == "":
            changed.pop("label")
        if changed:
            self.edit_requested.emit(self._current, changed)

    def _emit_times(self) -> None:
        """Typed start/end: ``edit_requested`` with ``typed`` (the controller snaps them to frames)."""
        if self._filling or not self._current:
            return
        seg = self._segments.get(self._current)
        a, b = float(self.start_box.value()), float(self.end_box.value())
        if seg is None or (abs(a - seg.start_s) < 5e-3 and abs(b - seg.end_s) < 5e-3):
            return
        self.edit_requested.emit(self._current, {"start_s": a, "end_s": b, "typed": True})

    def _on_delete(self) -> None:
        if self._current:
            self.delete_requested.emit(self._current)

    def _on_sample(self) -> None:
        seg = self._segments.get(self._current)
        self.sample_requested.emit(seg.label if seg is not None else "")

    def set_baseline(self, summary: Any = None, tooltip: str = "") -> None:
        """Flagged neutral segments under the table (nothing without a flag): one line each up to two,
        else one summary line (the table keeps its room); every flag is in the tooltip."""
        lines = [f"⚠ {f.short()}" for f in (summary.flagged if summary is not None else [])]
        shown = lines if len(lines) <= 2 else [f"⚠ {len(lines)} neutral segments lie far from the person's "
                                                "baseline (hover for each; Diagnosis support)"]
        self.baseline.setText("\n".join(shown))
        self.baseline.setToolTip("\n".join(lines + ([tooltip] if tooltip else [])))
        self.baseline.setVisible(bool(lines))
