"""Importing a real recording and analysing it in the background: progress, live plots, cancel, resume."""
from __future__ import annotations

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]

VIDEO = "videos/pyfeat_single_face.mp4"


@pytest.fixture
def qapp_vispy(gui_qapp):
    """The shared GUI application fixture (VisPy bound to PySide6, collection on the GUI thread)."""
    return gui_qapp


@pytest.fixture
def window(qtbot, qapp_vispy, tmp_path):
    from PySide6.QtCore import QSettings

    from facelens.gui.main_window import MainWindow

    w = MainWindow(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.force_quit = True
    w.close()
    assert w.queue.running is None and not w.queue.is_busy()  # worker stopped and joined


def test_import_analyse_in_background_with_progress(qtbot, window, media, tmp_path):
    from facelens.core.workspace import SessionStatus

    w = window
    assert w.open_workspace(tmp_path / "ws")
    sid = w.import_session_values(media / VIDEO, "P002", date="2026-02-03", scenario="conversation")
    assert sid is not None
    assert w.workspace.get_session(sid).patient_code == "P002"
    w.open_session(sid)  # not analysed yet: the view says so
    progress = []
    w.queue.progress.connect(lambda s, done, total, *rest: progress.append((done, total)))
    w.analyse(sid)
    # The GUI thread stays free: events are processed while the worker runs.
    qtbot.waitUntil(lambda: w.workspace.get_session(sid).status == SessionStatus.ANALYSED, timeout=120_000)
    assert progress and progress[-1][0] == progress[-1][1] > 10
    assert [p[0] for p in progress] == sorted(p[0] for p in progress)
    assert w.results_path(sid) is not None
    assert w.review.data is not None and w.review.data.n_frames == progress[-1][1]  # reopened when done
    from facelens.gui.sessions_panel import COL_STATUS

    assert "analysed" in w.sessions.tree.topLevelItem(0).child(0).text(COL_STATUS)


def test_cancel_leaves_a_resumable_session(qtbot, window, media, tmp_path):
    from facelens.core.workspace import SessionStatus

    w = window
    w.open_workspace(tmp_path / "ws")
    # A longer recording (197 sampled frames: several batches), cancelled after its first batch.
    sid = w.import_session_values(media / "videos/pyfeat_WolfgangLanger_Pexels.mp4", "P003")
    w.queue.progress.connect(lambda s, done, *rest: w.queue.cancel(s))
    cancelled = []
    w.queue.cancelled.connect(cancelled.append)
    w.analyse(sid)
    qtbot.waitUntil(lambda: cancelled == [sid], timeout=120_000)
    qtbot.waitUntil(lambda: w.queue.running is None, timeout=10_000)
    rec = w.workspace.get_session(sid)
    assert rec.status == SessionStatus.NOT_ANALYSED and "cancel" in rec.reason
    assert w.results_path(sid) is None  # no file that looks complete
    out = w.workspace.results_path_for(sid)
    assert out.with_name(out.name + ".partial").exists()  # resumable


def test_failed_analysis_shows_the_reason(qtbot, window, media, tmp_path):
    import shutil

    from facelens.core.workspace import SessionStatus

    w = window
    w.open_workspace(tmp_path / "ws")
    # Import refuses a non-video (test_gui_usage.py); a recording damaged after import fails in the queue.
    bad = tmp_path / "recording.mp4"
    shutil.copy(media / VIDEO, bad)
    sid = w.import_session_values(bad, "P004")
    assert sid is not None
    bad.write_text("this is text, not a video")
    w.analyse(sid)
    qtbot.waitUntil(lambda: w.workspace.get_session(sid).status == SessionStatus.FAILED, timeout=60_000)
    rec = w.workspace.get_session(sid)
    assert rec.reason and "\n" not in rec.reason and "Traceback" not in rec.reason
