"""The window fits a 1366×768 laptop screen and nothing the user does makes it wider.

Checked with real key presses: ``[`` (its "start at … press ]" hint used to widen the window from
1400 to 1589 px), long status messages and a long model list in the status bar.
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui

SMALL = (1366, 768 - 32)  # a 1366×768 screen less a title bar


def _settle(qtbot, ms: int = 150) -> None:
    qtbot.wait(ms)


def test_minimum_size_fits_a_small_screen(gui_window, qtbot):
    w = gui_window
    hint = w.minimumSizeHint()
    assert hint.width() <= SMALL[0] - 40 and hint.height() <= SMALL[1] - 40
    w.resize(*SMALL)
    _settle(qtbot)
    assert (w.width(), w.height()) == SMALL


def test_keys_and_messages_never_widen_the_window(gui_window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    w = gui_window
    w.resize(*SMALL)
    _settle(qtbot)
    before_w, before_min = w.width(), w.minimumSizeHint().width()
    w.activateWindow()
    qtbot.waitActive(w)
    w.timeline.glw.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=3000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_BracketLeft)
    _settle(qtbot)
    assert "press ]" in w.mark_label.text()
    w.statusBar().showMessage("x" * 400)
    w.models_label.setText("")
    w.session_ctl.show_models(type("D", (), {"models": [{"id": f"model-{i}", "version": "1.0"} for i in range(30)]})())
    long_reason = "frame excluded: low landmark confidence / occlusion " * 3  # the 3D view's status line
    w.face._say(long_reason)
    _settle(qtbot)
    assert w.width() == before_w and w.minimumSizeHint().width() == before_min
    assert w.models_label.width() <= 340 and "model-0" in w.models_label.toolTip()
    assert w.face.status.toolTip() == long_reason


def test_segment_statistics_are_visible_at_1366(gui_window, qtbot):
    from facelens.core.annotation.segments import Segment
    from facelens.gui.segment_panel import COL

    w = gui_window
    w.resize(*SMALL)
    w.reset_layout()
    _settle(qtbot, 300)
    t = np.arange(0, 60, 0.1)
    segs = [Segment(float(a), float(a) + 7.5, lab) for a, lab in ((1, "happy"), (10, "sad"), (20, "neutral"))]
    w.segments.set_segments(segs, t, np.sin(t) * 0.5, np.cos(t) * 0.5, np.ones(len(t), bool))
    _settle(qtbot)
    table = w.segments.table
    header = table.horizontalHeader()
    right = header.sectionViewportPosition(COL["n"]) + header.sectionSize(COL["n"])
    assert right <= table.viewport().width(), "mean ± SD and n must be visible without scrolling"
    from facelens.gui.sessions_panel import COL_STATUS

    tree = w.sessions.tree
    status_right = tree.header().sectionViewportPosition(COL_STATUS) + tree.header().sectionSize(COL_STATUS)
    assert status_right <= tree.viewport().width() + 4, "the Status column must be visible"
    for dock in w.docks.values():  # every panel inside the window
        if dock.isVisible():
            g = dock.geometry()
            assert g.right() <= w.width() and g.bottom() <= w.height()
