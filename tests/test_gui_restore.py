"""Reopening FaceLens puts the user back where they were: the last workspace, its open session and the
playhead, written when the window closes (its closeEvent) and read by a new window with the same
settings. A workspace left with no session open reopens with none (not a session of another one)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_WolfgangLanger_Pexels.mp4"


def _new_window(qtbot, settings):
    from facelens.gui.main_window import MainWindow

    w = MainWindow(settings)
    w.show()
    qtbot.waitExposed(w)
    return w


def _close(qtbot, w) -> None:
    w.force_quit = True
    w.close()  # the closeEvent path of a user closing the window
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)


def test_reopening_restores_workspace_session_and_playhead(qtbot, gui_qapp, gui_settings, add_analysed,
                                                           tmp_path):
    w = _new_window(qtbot, gui_settings)
    try:
        assert w.open_workspace(tmp_path / "ws")
        other = add_analysed(w.workspace, VIDEO, "P070")[0]
        sid = add_analysed(w.workspace, VIDEO, "P070")[0]
        assert sid != other
        assert w.open_session(sid)
        w.review.seek(7.3, follow=True)
        assert w.review.playhead == pytest.approx(7.3)
    finally:
        _close(qtbot, w)
    assert w.workspace is None

    w2 = _new_window(qtbot, gui_settings)
    try:
        assert w2.workspace is None and w2.session_id is None  # nothing opens before it is asked to
        assert w2.restore_last_session()
        assert w2.workspace is not None and Path(w2.workspace.folder).resolve() == (tmp_path / "ws").resolve()
        assert w2.session_id == sid and w2.review.state.session_id == sid
        assert w2.review.data is not None and w2.editor is not None and w2.editor.session_id == sid
        assert w2.review.playhead == pytest.approx(7.3)
        assert w2.sessions.selected_session() == sid
        assert w2.time_label.text().startswith("00:07.30")
        qtbot.waitUntil(lambda: w2.video.image_time is not None and abs(w2.video.image_time - 7.3) < 0.2,
                        timeout=10000)  # the frame at the restored playhead, not the first one
        # The user moves on and closes the session: the workspace alone reopens next time.
        w2.close_session()
    finally:
        _close(qtbot, w2)

    w3 = _new_window(qtbot, gui_settings)
    try:
        assert not w3.restore_last_session()
        assert w3.workspace is not None and w3.session_id is None and w3.review.data is None
    finally:
        _close(qtbot, w3)


def test_another_workspace_without_a_session_does_not_reopen_the_old_session(
        qtbot, gui_qapp, gui_settings, add_analysed, tmp_path):
    w = _new_window(qtbot, gui_settings)
    try:
        assert w.open_workspace(tmp_path / "a")
        assert w.open_session(add_analysed(w.workspace, VIDEO, "P070")[0])
    finally:
        _close(qtbot, w)
    w = _new_window(qtbot, gui_settings)
    try:
        assert w.restore_last_session()
        assert w.open_workspace(tmp_path / "b")  # a new, empty workspace; no session open
        add_analysed(w.workspace, VIDEO, "P070")[0]  # its session #1 exists too
    finally:
        _close(qtbot, w)
    w = _new_window(qtbot, gui_settings)
    try:
        assert not w.restore_last_session()
        assert Path(w.workspace.folder).resolve() == (tmp_path / "b").resolve()
        assert w.session_id is None  # workspace a's session #1 was not opened in b
    finally:
        _close(qtbot, w)
