"""Frames left out of the analysis are gaps everywhere: no 3D face, no mesh overlay, the reason on the
video and in the 3D view, and — with a real mouse resting over the gap — in a tool tip on the curves."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_WolfgangLanger_Pexels.mp4"  # a hand passes over the face


@pytest.fixture
def gap_session(gui_window, add_analysed, tmp_path):
    from facelens.core.results import SessionResults

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    sid, out = add_analysed(w.workspace, VIDEO, "P020")
    with SessionResults.open(out) as r:
        bad = np.flatnonzero(~np.asarray(r.usable))
        good = np.flatnonzero(np.asarray(r.usable))
        t = np.asarray(r.time_s)
    assert bad.size, "the test clip must contain excluded frames"
    assert w.open_session(sid)
    return w, float(t[bad[len(bad) // 2]]), float(t[good[0]])


def test_excluded_frame_shows_no_face_and_says_why(gap_session, qtbot):
    w, t_bad, t_good = gap_session
    w.review.seek(t_good)
    qtbot.waitUntil(lambda: w.review.current_frame >= 0, timeout=5000)
    assert w.video._landmarks is not None and w.video.excluded == ""
    w.review.seek(t_bad)
    i = w.review.current_frame
    why = w.review.data.reason_at(i)
    assert why
    assert w.video._landmarks is None and w.video.excluded == why
    assert w.face.status.text() == f"frame excluded: {why}"
    assert w.face.scene.mesh.visible is False


def test_gap_tooltip_appears_under_a_resting_mouse(gap_session, qtbot):
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QToolTip

    w, t_bad, _ = gap_session
    tl = w.timeline
    w.activateWindow()
    qtbot.waitActive(w)
    qtbot.wait(300)  # let the plots take their final size before mapping a time to a pixel
    vb = tl.valence_plot.getViewBox()
    vb.updateMatrix()
    pos = tl.glw.mapFromScene(vb.mapViewToScene(QPointF(t_bad, 0.0)))
    assert tl.gap_text_at(tl.glw.mapToScene(pos))
    qtbot.mouseMove(tl.glw.viewport(), pos)
    qtbot.wait(50)
    qtbot.mouseMove(tl.glw.viewport(), pos + type(pos)(1, 0))  # a second move: the pointer then rests
    qtbot.waitUntil(lambda: QToolTip.isVisible() and "frame excluded" in QToolTip.text(), timeout=4000)
    qtbot.wait(1500)  # Qt's own tool-tip event arrives after the rest: the text must survive it
    assert QToolTip.isVisible() and "frame excluded" in QToolTip.text()
