"""Final GUI polish: the segment table is chronological by default, the default layout leaves the
timeline and the segment table room at 1366×768, the offscreen 3D view still orbits under a mouse drag
and zooms under the wheel, and the background analysis runs in a child process."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_segment_table_is_chronological_by_default(gui_qapp):
    from facelens.core.annotation.segments import Segment
    from facelens.gui.segment_panel import SegmentPanel

    t = np.arange(0, 60, 0.1)
    ok = np.ones(len(t), bool)
    panel = SegmentPanel(["happy", "sad", "neutral"], ["rest"])
    # Given out of order on purpose: the table must sort them, earliest first.
    segs = [Segment(s, s + 3.0, "happy") for s in (30.0, 5.0, 50.0, 12.0)]
    panel.set_segments(segs, t, np.sin(t), np.cos(t), ok)
    starts = [float(panel.table.item(r, 0).text()) for r in range(panel.row_count())]
    assert starts == [5.0, 12.0, 30.0, 50.0]
    segs.append(Segment(1.0, 2.0, "sad"))  # a later edit keeps the order
    panel.set_segments(segs, t, np.sin(t), np.cos(t), ok)
    assert float(panel.table.item(0, 0).text()) == 1.0
    panel.deleteLater()


def _segment_dock_visible_rows(w) -> int:
    table = w.segments.table
    row_h = table.verticalHeader().defaultSectionSize()
    return table.viewport().height() // row_h


def test_small_screen_layout_gives_the_table_and_timeline_room(qtbot, gui_qapp, gui_settings):
    from PySide6.QtCore import Qt

    from facelens.gui.main_window import TOP_ROW_FRACTION_SMALL, MainWindow

    w = MainWindow(gui_settings)
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(100)  # the default dock sizes are applied at the first turn of the event loop
    try:
        top = w.docks["video"].height()
        assert top <= 768 * (TOP_ROW_FRACTION_SMALL + 0.03)
        assert w.docks["video"].widget().height() >= 180  # the video stays watchable
        assert w.timeline.height() >= 250
        assert _segment_dock_visible_rows(w) >= 7  # was about four (44 %, the style's 30-px rows)
        # "Reset layout" returns to the same sizes.
        w.resizeDocks([w.docks["video"]], [500], Qt.Orientation.Vertical)
        qtbot.wait(20)
        w.reset_layout()
        qtbot.wait(50)
        assert abs(w.docks["video"].height() - top) <= 8
    finally:
        w.force_quit = True
        w.close()


def test_3d_view_orbits_on_drag_and_zooms_on_wheel(gui_window, qtbot):
    from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
    from PySide6.QtGui import QMouseEvent, QWheelEvent
    from PySide6.QtWidgets import QApplication

    from facelens.render.face_mesh import upright_from_image

    face = gui_window.face
    rng = np.random.default_rng(3)
    face.set_vertices(upright_from_image(rng.normal(size=(478, 3)).astype(np.float32) * 50 + 200))
    qtbot.waitUntil(lambda: face.renders > 0 and face.display.image is not None, timeout=5000)
    qtbot.wait(50)
    cam = face.scene.view.camera
    az0, fov_or_dist0 = float(cam.azimuth), float(cam.scale_factor)
    before_px, renders0 = face.display._pixels.copy(), face.renders
    disp = face.display
    c = QPointF(disp.width() / 2, disp.height() / 2)

    def send(kind, pos, button, buttons):
        ev = QMouseEvent(kind, pos, disp.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(disp, ev)

    left = Qt.MouseButton.LeftButton
    send(QEvent.Type.MouseButtonPress, c, left, left)
    for k in range(1, 9):  # a horizontal drag of 80 px in small steps, like a real hand
        send(QEvent.Type.MouseMove, c + QPointF(10 * k, 0), Qt.MouseButton.NoButton, left)
        qtbot.wait(5)
    send(QEvent.Type.MouseButtonRelease, c + QPointF(80, 0), left, Qt.MouseButton.NoButton)
    qtbot.waitUntil(lambda: face.renders > renders0, timeout=5000)
    qtbot.wait(50)
    assert abs(float(cam.azimuth) - az0) > 5.0  # orbited
    after_px = face.display._pixels
    assert after_px.shape == before_px.shape
    assert np.mean(np.any(after_px != before_px, axis=-1)) > 0.01  # and the picture shows it

    renders1 = face.renders
    wheel = QWheelEvent(c, disp.mapToGlobal(c), QPoint(0, 0), QPoint(0, 240), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(disp, wheel)
    qtbot.waitUntil(lambda: face.renders > renders1, timeout=5000)
    assert float(cam.scale_factor) != pytest.approx(fov_or_dist0)  # zoomed

    face.reset_view()  # "Reset view" goes back to the front
    assert float(cam.azimuth) == pytest.approx(az0)


def test_background_analysis_runs_in_a_child_process(gui_window):
    from facelens.gui.analysis import AnalysisWorker, ProcessAnalysisWorker

    assert gui_window.queue.worker_class is ProcessAnalysisWorker
    assert issubclass(ProcessAnalysisWorker, AnalysisWorker)  # same signals as the in-process worker


def test_child_sends_only_the_live_columns():
    from facelens.gui.analysis_child import LIVE_COLUMNS, live_columns, one_line

    cols = {k: np.zeros((4, 2)) for k in (*LIVE_COLUMNS, "expressions", "emotions", "bbox")}
    out = live_columns(cols)
    assert set(out) == set(LIVE_COLUMNS)
    assert one_line(ValueError("first line\nsecond")) == "first line"
    assert one_line(KeyError()) == "KeyError"
