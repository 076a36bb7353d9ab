"""Analyse on an analysed session: asked first (real clicks on the button and in the question), the
status is visible at once, and cancelling the re-analysis keeps the session "analysed"."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]

VIDEO = "videos/pyfeat_WolfgangLanger_Pexels.mp4"  # 197 sampled frames: several batches


@pytest.fixture
def analysed_session(gui_window, media, analysed, tmp_path):
    from facelens.core.workspace import RunStatus, SessionStatus

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    ws = w.workspace
    rec = ws.import_session(media / VIDEO, "P010")
    out = Path(ws.results_path_for(rec.id))
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(analysed(VIDEO), out)
    ws.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
    ws.set_session_status(rec.id, SessionStatus.ANALYSED)
    w.refresh_sessions()
    assert w.open_session(rec.id)
    return w, int(rec.id)


def _answer_next_question(qtbot, button) -> list[str]:
    """Click ``button`` of the next message box with the mouse, as a user would; returns its text."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    seen: list[str] = []

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, click)
            return
        seen.append(box.text())
        qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)

    QTimer.singleShot(50, click)
    return seen


def test_reanalysis_asks_and_cancel_keeps_the_old_results(qtbot, analysed_session):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from facelens.core.workspace import SessionStatus
    from facelens.gui.sessions_panel import COL_STATUS

    w, sid = analysed_session
    old = w.results_path(sid)
    seen = _answer_next_question(qtbot, QMessageBox.StandardButton.No)
    qtbot.mouseClick(w.sessions.analyse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    assert "already analysed" in seen[0]
    assert not w.queue.is_busy() and w.workspace.get_session(sid).status == SessionStatus.ANALYSED

    cancelled: list[int] = []
    w.queue.cancelled.connect(cancelled.append)
    w.queue.progress.connect(lambda s, *rest: w.queue.cancel(s))  # cancel after the first batch
    seen = _answer_next_question(qtbot, QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(w.sessions.analyse_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    # At once, before the worker has produced anything: the row and the status bar say so.
    item = w.sessions._items[sid]
    assert item.text(COL_STATUS) in ("queued", "analysing 0 %", "analysing")
    assert "queued" in w.statusBar().currentMessage() or "Analysing" in w.statusBar().currentMessage()
    assert w.sessions.selected_session() == sid  # the selection did not jump
    qtbot.waitUntil(lambda: cancelled == [sid], timeout=120_000)
    qtbot.waitUntil(lambda: w.queue.running is None, timeout=10_000)
    rec = w.workspace.get_session(sid)
    assert rec.status == SessionStatus.ANALYSED and "earlier results are kept" in rec.reason
    assert w.results_path(sid) == old and w.review.data is not None and w.review.data.n_frames > 0
    assert "analysed" in w.sessions._items[sid].text(COL_STATUS)
