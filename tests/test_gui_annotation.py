"""Annotation tooling with real input: drags on the segment strip, typed times, label hotkeys,
next/previous segment, the overlap rule of the label set and the annotator asked once."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_WolfgangLanger_Pexels.mp4"


@pytest.fixture
def session(gui_window, add_analysed, tmp_path):

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    sid, _ = add_analysed(w.workspace, VIDEO, "P030")
    assert w.open_session(sid)
    w.prefs.author = "RA1"
    return w


def _strip_pos(w, t: float):
    from PySide6.QtCore import QPointF

    vb = w.timeline.segment_plot.getViewBox()
    vb.updateMatrix()
    return w.timeline.glw.mapFromScene(vb.mapViewToScene(QPointF(t, 0.5)))


def _drag(qtbot, w, t0: float, t1: float) -> None:
    from PySide6.QtCore import Qt

    vp = w.timeline.glw.viewport()
    a, b = _strip_pos(w, t0), _strip_pos(w, t1)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    for k in range(1, 11):
        qtbot.mouseMove(vp, a + (b - a) * (k / 10))
        qtbot.wait(10)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=b)
    qtbot.wait(50)


def _shift_drag(qtbot, w, t0: float, t1: float) -> None:
    """A left-button drag with Shift held on every event (QTest's moves carry no modifiers)."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    vp = w.timeline.glw.viewport()
    a, b = _strip_pos(w, t0), _strip_pos(w, t1)
    shift, left = Qt.KeyboardModifier.ShiftModifier, Qt.MouseButton.LeftButton

    def send(kind, pos, button, buttons) -> None:
        local = QPointF(pos)
        QApplication.sendEvent(vp, QMouseEvent(kind, local, QPointF(vp.mapToGlobal(pos)), button, buttons, shift))

    send(QEvent.Type.MouseButtonPress, a, left, left)
    for k in range(1, 11):
        send(QEvent.Type.MouseMove, a + (b - a) * (k / 10), Qt.MouseButton.NoButton, left)
        qtbot.wait(10)
    send(QEvent.Type.MouseButtonRelease, b, left, Qt.MouseButton.NoButton)
    qtbot.wait(50)


def _key(qtbot, w, key, mod=None) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    w.activateWindow()
    qtbot.waitActive(w)
    w.timeline.glw.setFocus()  # not a text field: there a letter is text, not a shortcut
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.timeline.glw, timeout=3000)
    qtbot.keyClick(QApplication.focusWidget(), key, mod or Qt.KeyboardModifier.NoModifier)


def test_overlap_with_another_label_is_refused(session, qtbot):
    from PySide6.QtCore import Qt

    w = session
    w.activateWindow()
    qtbot.waitActive(w)
    qtbot.wait(300)
    assert w.annotation_ctl.overlap_rule == "refuse"
    _key(qtbot, w, Qt.Key.Key_2)  # label hotkey: the second label (sad)
    assert w.new_label_box.currentText() == w.labels[1]
    _drag(qtbot, w, 0.5, 9.0)
    assert [s.label for s in w.editor.segments] == [w.labels[1]]
    _key(qtbot, w, Qt.Key.Key_1)  # happy, and relabels the selected segment…
    assert [s.label for s in w.editor.segments] == [w.labels[0]]
    w.undo()
    w.select_segment("")
    _key(qtbot, w, Qt.Key.Key_1)  # …nothing selected: only the label for new segments
    _drag(qtbot, w, 9.6, 3.0)  # happy from just after sad back into it: refused
    assert [(s.label, s.start_s) for s in w.editor.segments] == [(w.labels[1], pytest.approx(0.5, abs=0.1))]
    assert "overlap" in w.statusBar().currentMessage()
    _drag(qtbot, w, 10.0, 14.0)  # beside it: fine
    assert len(w.editor.segments) == 2


def test_typed_times_land_on_sampled_frames_and_n_steps_segments(session, qtbot):
    from PySide6.QtCore import Qt

    w = session
    times = w.review.data.time_s
    a = w.create_segment(2.0, 4.0, "happy")
    b = w.create_segment(8.0, 10.0, "sad")
    w.select_segment(a.id)
    box = w.segments.start_box
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, "1.234")
    qtbot.keyClick(box, Qt.Key.Key_Return)
    seg = next(s for s in w.editor.segments if s.id == a.id)
    assert np.min(np.abs(times - seg.start_s)) == 0.0 and abs(seg.start_s - 1.234) < 0.1
    w.review.seek(0.0)
    _key(qtbot, w, Qt.Key.Key_N)
    assert w.review.state.selected_segment == a.id and w.review.playhead == pytest.approx(seg.start_s)
    _key(qtbot, w, Qt.Key.Key_N)
    assert w.review.state.selected_segment == b.id
    _key(qtbot, w, Qt.Key.Key_N, Qt.KeyboardModifier.ShiftModifier)
    assert w.review.state.selected_segment == a.id


def test_annotator_is_asked_once_and_stored_with_the_edit(session, qtbot):
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog

    w = session
    w.prefs.author = ""
    w.editor.author = ""
    w.annotation_ctl.ask_author = True
    asked: list[str] = []

    def answer() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, QInputDialog):
            QTimer.singleShot(50, answer)
            return
        asked.append(dlg.labelText())
        edit = dlg.findChild(type(w.segments.note_edit))
        qtbot.keyClicks(edit, "RA7")
        qtbot.keyClick(edit, Qt.Key.Key_Return)

    QTimer.singleShot(50, answer)
    seg = w.create_segment(1.0, 2.0, "happy")
    assert len(asked) == 1 and seg.author == "RA7" and w.prefs.author == "RA7"
    w.create_segment(3.0, 4.0, "happy")  # not asked again
    assert len(asked) == 1
    assert w.segments.author_edit.text() in ("RA7", "")


def test_a_strip_label_never_runs_into_the_next_segment(session, qtbot):
    """A short segment's label is elided to its own width (it was drawn over its neighbour's)."""
    from PySide6.QtGui import QFontMetrics

    w = session
    w.new_label_box.setCurrentText("neutral")
    short = w.create_segment(12.0, 12.4)
    w.new_label_box.setCurrentText("happy")
    wide = w.create_segment(12.4, 19.0)
    assert short is not None and wide is not None
    tl = w.timeline
    qtbot.waitUntil(lambda: tl.segment_plot.getViewBox().viewPixelSize()[0] > 0, timeout=5000)
    px = tl.segment_plot.getViewBox().viewPixelSize()[0]
    for seg in (short, wide):
        text = tl._region_labels[seg.id]
        width = QFontMetrics(text.textItem.font()).horizontalAdvance(text.toPlainText())
        assert not text.isVisible() or width <= (seg.end_s - seg.start_s) / px, (seg.label, text.toPlainText())
    assert tl._region_labels[wide.id].toPlainText() == "happy"  # room enough: whole
    assert tl._region_labels[short.id].toPlainText() != "neutral"  # 0.4 s is a few pixels: elided or hidden
    tl.valence_plot.setXRange(11.9, 12.6, padding=0)  # zoomed in, the short segment has room again
    qtbot.waitUntil(lambda: tl._region_labels[short.id].toPlainText() == "neutral", timeout=5000)


def test_an_exclusion_is_drawn_over_a_labelled_segment_and_leaves_its_statistics(session, qtbot):
    """Label hotkey 4 is the reviewer's exclusion: marked with [ and ] inside a happy segment (a drag
    there would move the segment), the overlap rule does not refuse it, and the happy row's frame
    count leaves its frames out; undo brings them back."""
    from PySide6.QtCore import Qt

    from facelens.gui.segment_panel import COL

    w = session
    w.activateWindow()
    qtbot.waitActive(w)
    qtbot.wait(300)
    assert w.labels[3] == "exclude"
    _key(qtbot, w, Qt.Key.Key_1)
    _drag(qtbot, w, 10.0, 19.0)
    happy = w.editor.segments[0]

    def n_of(seg_id: str) -> int:
        t = w.segments.table
        r = next(r for r in range(t.rowCount()) if t.item(r, 0).data(Qt.ItemDataRole.UserRole + 1) == seg_id)
        return int(t.item(r, COL["n"]).text())

    before = n_of(happy.id)
    w.select_segment("")
    _key(qtbot, w, Qt.Key.Key_4)
    assert w.new_label_box.currentText() == "exclude"
    w.review.seek(12.0)
    _key(qtbot, w, Qt.Key.Key_BracketLeft)
    w.review.seek(15.0)
    _key(qtbot, w, Qt.Key.Key_BracketRight)
    assert sorted(s.label for s in w.editor.segments) == ["exclude", "happy"], w.statusBar().currentMessage()
    cut = next(s for s in w.editor.segments if s.label == "exclude")
    assert n_of(cut.id) == 0
    assert 10 <= before - n_of(happy.id) <= 31  # the 3 s inside it, at 10 frames/s, less unusable ones
    w.undo()  # the exclusion goes, the happy row's count comes back
    assert [s.label for s in w.editor.segments] == ["happy"] and n_of(happy.id) == before


def test_shift_drag_over_a_segment_draws_an_exclusion_across_it(session, qtbot):
    """A plain drag inside a segment moves it; with Shift held the same drag draws a new segment
    (here an exclusion) and leaves the one under it where it was."""
    from PySide6.QtCore import Qt

    w = session
    w.activateWindow()
    qtbot.waitActive(w)
    qtbot.wait(300)
    _key(qtbot, w, Qt.Key.Key_1)
    _drag(qtbot, w, 10.0, 16.0)
    assert [s.label for s in w.editor.segments] == ["happy"]
    happy = w.editor.segments[0]
    _drag(qtbot, w, 12.0, 13.0)  # no Shift: the segment moves by about a second
    moved = next(s for s in w.editor.segments if s.id == happy.id)
    assert len(w.editor.segments) == 1 and moved.start_s == pytest.approx(11.0, abs=0.3)
    w.undo()
    happy = next(s for s in w.editor.segments if s.id == happy.id)
    assert happy.start_s == pytest.approx(10.0, abs=0.15)
    w.select_segment("")  # with a segment selected, a label key relabels it
    _key(qtbot, w, Qt.Key.Key_4)
    _shift_drag(qtbot, w, 12.0, 14.0)
    assert sorted(s.label for s in w.editor.segments) == ["exclude", "happy"], w.statusBar().currentMessage()
    cut = next(s for s in w.editor.segments if s.label == "exclude")
    assert cut.start_s == pytest.approx(12.0, abs=0.15) and cut.end_s == pytest.approx(14.0, abs=0.15)
    still = next(s for s in w.editor.segments if s.id == happy.id)
    assert (still.start_s, still.end_s) == (happy.start_s, happy.end_s)
