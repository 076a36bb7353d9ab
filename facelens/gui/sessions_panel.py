"""The sessions panel: patients (pseudonymous IDs only) and their sessions with analysis status.

The panel shows what the workspace says; it never edits it directly. Buttons emit requests that the
main window carries out (import, analyse, cancel), and the running analysis is shown with a progress
bar, its rate and the time left.
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

_SESSION_ROLE = Qt.ItemDataRole.UserRole + 1
# Status right after the name: in a narrow panel (1366-px screens) it stays visible; the date follows.
COL_NAME, COL_STATUS, COL_DATE = 0, 1, 2


def status_text(status: Any, progress: float | None = None, reason: str = "") -> str:
    """How a session's status reads in the panel (``analysing 42 %``, ``failed: <reason>``)."""
    s = getattr(status, "value", str(status))
    if s == "analysing" and progress is not None and math.isfinite(progress):
        return f"analysing {100.0 * progress:.0f} %"
    if s == "failed" and reason:
        return f"failed: {reason}"
    return s


def format_eta(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    m, s = divmod(int(round(seconds)), 60)  # noqa: RUF046 - seconds may be a numpy float
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class SessionsPanel(QWidget):
    """Tree of patients → sessions, plus the analysis progress row."""

    open_requested = Signal(int)
    import_requested = Signal()
    analyse_requested = Signal(int)
    cancel_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Patient / session", "Status", "Date"])
        self.tree.setColumnWidth(COL_NAME, 104)
        self.tree.setColumnWidth(COL_STATUS, 88)
        self.tree.setAlternatingRowColors(True)
        self.tree.setToolTip("Patients are listed by pseudonymous ID only. Double-click a session to open it.")
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Import a session recording (you can also drop a video on the window)")
        self.import_button.clicked.connect(self.import_requested)
        self.analyse_button = QPushButton("Analyse")
        self.analyse_button.setToolTip("Queue the selected session for analysis (runs in the background)")
        self.analyse_button.clicked.connect(self._on_analyse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.analyse_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress_label = QLabel("")
        self.progress_label.setWordWrap(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the running analysis; it can be resumed later")
        self.cancel_button.clicked.connect(self._on_cancel)
        prow = QHBoxLayout()
        prow.addWidget(self.progress, 1)
        prow.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        pl = QVBoxLayout(self.progress_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.progress_label)
        pl.addLayout(prow)
        self.progress_box.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.tree, 1)
        lay.addLayout(buttons)
        lay.addWidget(self.progress_box)
        self._running: int | None = None
        self._items: dict[int, QTreeWidgetItem] = {}
        self._update_buttons()

    # -- content ---------------------------------------------------------------------------------
    def set_sessions(self, sessions: Iterable[Any], current: int | None = None) -> None:
        """Rebuild the tree from workspace session records (grouped by patient pseudonym)."""
        sel = self.selected_session() if current is None else current
        self.tree.clear()
        self._items.clear()
        groups: dict[str, QTreeWidgetItem] = {}
        for s in sorted(sessions, key=lambda s: (s.patient_code, s.date, s.id)):
            parent = groups.get(s.patient_code)
            if parent is None:
                parent = QTreeWidgetItem([s.patient_code, "", ""])
                parent.setFlags(parent.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                self.tree.addTopLevelItem(parent)
                groups[s.patient_code] = parent
            name = f"#{s.id} {s.scenario or 'session'}"
            status = status_text(s.status, s.progress, s.reason)
            item = QTreeWidgetItem([name, status, s.date or ""])
            item.setData(0, _SESSION_ROLE, int(s.id))
            item.setToolTip(COL_NAME, f"{s.date or ''}\n{s.video_path}\n{s.notes}".strip())
            item.setToolTip(COL_STATUS, status)
            parent.addChild(item)
            self._items[int(s.id)] = item
        self.tree.expandAll()
        if sel is not None and sel in self._items:
            self.tree.setCurrentItem(self._items[sel])
        self._update_buttons()

    def set_status(self, session_id: int, text: str) -> None:
        item = self._items.get(session_id)
        if item is not None:
            item.setText(COL_STATUS, text)
            item.setToolTip(COL_STATUS, text)

    def selected_session(self) -> int | None:
        item = self.tree.currentItem()
        sid = item.data(0, _SESSION_ROLE) if item is not None else None
        return int(sid) if sid is not None else None

    def select_session(self, session_id: int) -> None:
        item = self._items.get(session_id)
        if item is not None:
            self.tree.setCurrentItem(item)

    # -- analysis progress -----------------------------------------------------------------------
    def show_progress(self, session_id: int, done: int, total: int, rate: float, eta_s: float,
                      title: str = "") -> None:
        self._running = session_id
        self.progress_box.show()
        frac = done / total if total > 0 else 0.0
        self.progress.setValue(int(round(1000 * min(1.0, frac))))  # noqa: RUF046 - frac may be numpy
        self.progress.setFormat(f"{100 * frac:.0f} %")
        self.progress_label.setText(f"Analysing {title or f'session #{session_id}'}: {done}/{total} frames · "
                                    f"{rate:.0f} frames/s · {format_eta(eta_s)} left")
        self.set_status(session_id, status_text("analysing", frac))
        self._update_buttons()

    def hide_progress(self) -> None:
        self._running = None
        self.progress_box.hide()
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.analyse_button.setEnabled(self.selected_session() is not None)
        self.cancel_button.setEnabled(self._running is not None)

    def _on_analyse(self) -> None:
        sid = self.selected_session()
        if sid is not None:
            self.analyse_requested.emit(sid)

    def _on_cancel(self) -> None:
        if self._running is not None:
            self.cancel_requested.emit(self._running)

    def _on_double_click(self, item: QTreeWidgetItem, _col: int) -> None:
        sid = item.data(0, _SESSION_ROLE)
        if sid is not None:
            self.open_requested.emit(int(sid))
