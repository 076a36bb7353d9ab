"""Emotion probabilities, an expression measure, head pose and the quality track on the session's time
axis: the stored per-frame values, gaps at excluded frames, and a cursor that follows the playhead."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_WolfgangLanger_Pexels.mp4"


def test_measures_show_the_stored_series_with_gaps(gui_window, add_analysed, tmp_path, qtbot):
    from facelens.core.results import SessionResults
    from facelens.gui.measures import VIEWS

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    sid, out = add_analysed(w.workspace, VIDEO, "P040")
    assert w.open_session(sid)
    m = w.measures
    w.top_tabs.setCurrentWidget(m)  # the page beside the circumplex
    with SessionResults.open(out) as r:
        emotions, labels, usable = np.asarray(r.emotions), list(r.emotion_labels), np.asarray(r.usable)
        euler = np.asarray(r.euler)
    assert m.view_box.currentText() == VIEWS[0] and len(m.curves) == len(labels) == 7
    _, y = m.curves[labels.index("happy")].getData()
    assert np.allclose(y[usable], emotions[usable, labels.index("happy")], equal_nan=True)
    assert np.isnan(y[~usable]).all() and (~usable).any()  # excluded frames are gaps
    m.view_box.setCurrentText("Head pose (degrees)")
    _, yaw = m.curves[0].getData()
    assert np.allclose(yaw[usable], euler[usable, 0])
    m.view_box.setCurrentText("Expression measure")
    assert not m.expr_box.isHidden() and m.expr_box.count() > 0 and len(m.curves) == 1
    m.view_box.setCurrentText("Quality")
    n_points = sum(len(c.getData()[0]) for c in m.curves)
    assert n_points == len(usable) and len(m.curves) >= 2  # every frame on one of the reason rows
    t = float(w.review.data.time_s[50])
    w.review.seek(t)
    qtbot.waitUntil(lambda: m.cursor.value() == pytest.approx(t), timeout=3000)
