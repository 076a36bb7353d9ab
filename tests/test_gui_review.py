"""The review window on a real analysed recording: synchronised seeking, segment editing that persists
across a restart of the window, the 3D viewport's pixels, and no leaked threads or windows."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_single_face.mp4"


@pytest.fixture
def qapp_vispy(gui_qapp):
    """The shared GUI application fixture (VisPy bound to PySide6, collection on the GUI thread)."""
    return gui_qapp


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def workspace(tmp_path, media, analysed):
    """A fresh workspace with the recording imported and its (cached) analysis registered."""
    from facelens.core.workspace import RunStatus, SessionStatus, Workspace

    folder = tmp_path / "ws"
    with Workspace.open(folder, create=True) as ws:
        rec = ws.import_session(media / VIDEO, "P001", date="2026-01-02", scenario="elicitation video")
        out = Path(ws.results_path_for(rec.id))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(analysed(VIDEO), out)
        ws.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
        ws.set_session_status(rec.id, SessionStatus.ANALYSED)
    return folder, rec.id


def _window(qtbot, settings):
    from facelens.gui.main_window import MainWindow

    w = MainWindow(settings)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    return w


def _close(qtbot, w):
    w.force_quit = True
    w.close()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    assert w.queue.running is None
    assert w.review.loader is None  # the frame decoding thread was stopped and joined


def _frame_time(w):
    return w.video.image_time


def test_seek_moves_cursor_video_frame_and_mesh_together(qtbot, qapp_vispy, settings, workspace):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    folder, sid = workspace
    w = _window(qtbot, settings)
    try:
        assert w.open_workspace(folder)
        assert w.open_session(sid)
        d = w.review.data
        assert d.n_frames >= 20 and d.usable.mean() > 0.8
        meshes = {}
        for t in (0.3, 1.8):
            w.review.seek(t)
            i = d.frame_at_time(t)
            assert w.timeline.cursor_time == pytest.approx(t)
            assert all(c.value() == pytest.approx(t) for c in w.timeline.cursors)
            # the decoded frame is the sampled (analysed) frame nearest to the playhead
            qtbot.waitUntil(lambda: abs(_frame_time(w) - d.time_s[i]) < 1e-6, timeout=5000)  # noqa: B023
            assert w.review.current_frame == i
            meshes[t] = w.face.scene.vertices.copy()
            assert np.allclose(meshes[t], d.view_mesh(i))
            pt = w.circumplex.point.getData()
            assert len(pt[0]) == 1 and pt[0][0] == pytest.approx(d.valence[i], abs=1e-5)
        assert not np.allclose(meshes[0.3], meshes[1.8])  # the smile changed the mesh
        # Keys: one sampled frame, one second, Home/End.
        w.review.seek(1.0)
        w.activateWindow()
        qtbot.waitActive(w)
        w.timeline.glw.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=3000)

        def key(k, mod=Qt.KeyboardModifier.NoModifier):
            qtbot.keyClick(QApplication.focusWidget() or w, k, mod)

        nxt = float(d.time_s[np.searchsorted(d.time_s, 1.0, side="right")])
        key(Qt.Key.Key_Right)
        assert w.review.playhead == pytest.approx(nxt)
        key(Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
        assert w.review.playhead == pytest.approx(nxt + 1.0)
        key(Qt.Key.Key_Home)
        assert w.review.playhead == pytest.approx(d.time_s[0])
        key(Qt.Key.Key_End)
        assert w.review.playhead == pytest.approx(d.time_s[-1])
        key(Qt.Key.Key_Space)
        assert w.review.is_playing()
        key(Qt.Key.Key_Space)
        assert not w.review.is_playing()
        # Clicking on the valence plot seeks there.
        w.timeline.seek_requested.emit(0.9)
        assert w.review.playhead == pytest.approx(0.9)
        # Playback advances the playhead at the video's pace.
        w.review.seek(0.0)
        w.review.play()
        qtbot.wait(600)
        w.review.pause()
        assert 0.2 < w.review.playhead < 1.2
    finally:
        _close(qtbot, w)


def test_segments_create_edit_undo_delete_persist_across_restart(qtbot, qapp_vispy, settings, workspace):
    from facelens.core.workspace import Workspace

    folder, sid = workspace
    w = _window(qtbot, settings)
    try:
        w.open_workspace(folder)
        w.open_session(sid)
        # Nested segments of different labels below: this test is about saving, undo and restart,
        # so the label set's overlap rule is "allow" here (test_gui_annotation.py covers "refuse").
        w.annotation_ctl.overlap_rule = "allow"
        seg = w.create_segment(0.2, 1.0, "neutral")  # as a drag on the segment strip does
        assert seg is not None and w.segments.row_count() == 1
        w.timeline.create_requested.emit(1.2, 2.3)  # a drag on the strip
        assert w.segments.row_count() == 2
        # [ and ] at the playhead.
        w.review.seek(0.5)
        w.mark_start()
        w.review.seek(0.8)
        w.mark_end()
        assert w.segments.row_count() == 3
        w.undo()
        assert w.segments.row_count() == 2
        w.redo()
        assert w.segments.row_count() == 3
        # Edit: label via the panel, edges via the timeline.
        w.segments.edit_requested.emit(seg.id, {"label": "happy", "note": "smile onset"})
        w.timeline.segment_edited.emit(seg.id, 0.1, 1.1)
        # Delete one, then undo the delete.
        third = next(s for s in w.editor.segments if s.start_s == pytest.approx(0.5))
        w.delete_segment(third.id)
        assert w.segments.row_count() == 2
        w.undo()
        assert w.segments.row_count() == 3
        w.delete_segment(third.id)
        # Mean ± SD in the table comes from the results.
        from facelens.gui.segment_panel import COL

        texts = [w.segments.table.item(r, COL["Valence"]).text() for r in range(w.segments.row_count())]
        assert all("±" in t for t in texts)
    finally:
        _close(qtbot, w)
    # Saved at once: a fresh connection sees every change ...
    with Workspace.open(folder, create=False) as ws:
        segs = sorted(ws.segments(sid), key=lambda s: s.start_s)
    assert [(round(s.start_s, 3), round(s.end_s, 3), s.label) for s in segs] == [
        (0.1, 1.1, "happy"), (1.2, 2.3, "happy")]
    assert segs[0].note == "smile onset"
    # ... and a new window shows them.
    w2 = _window(qtbot, settings)
    try:
        w2.open_workspace(folder)
        w2.open_session(sid)
        assert w2.segments.row_count() == 2
        assert len(w2.timeline._regions) == 2
    finally:
        _close(qtbot, w2)


def test_screenshot_3d_viewport_centre_is_face_coloured(qtbot, qapp_vispy, settings, workspace, tmp_path):
    from facelens.gui.app import wait_rendered
    from facelens.render.colors import VIEWPORT_BG_RGBA

    folder, sid = workspace
    w = _window(qtbot, settings)
    try:
        w.open_workspace(folder)
        w.open_session(sid)
        w.review.seek(1.5)
        assert wait_rendered(w, 1.5, timeout_s=10)
        path = tmp_path / "shot.png"
        assert w.grab().save(str(path))
        from PySide6.QtGui import QImage

        img = QImage(str(path))
        canvas = w.face.display  # the raster widget that shows the offscreen render
        assert w.face.renders > 0
        centre = canvas.mapTo(w, canvas.rect().center())
        ratio = img.width() / w.width()
        px = []
        for dx in (-6, 0, 6):
            for dy in (-6, 0, 6):
                c = img.pixelColor(int((centre.x() + dx) * ratio), int((centre.y() + dy) * ratio))
                px.append((c.redF(), c.greenF(), c.blueF()))
        r, g, b = np.mean(px, axis=0)
        assert np.abs(np.array([r, g, b]) - VIEWPORT_BG_RGBA[:3]).max() > 0.2, "3D centre shows background"
        assert r > g > b and r > 0.4, f"3D centre ({r:.2f}, {g:.2f}, {b:.2f}) is not skin-coloured"
    finally:
        _close(qtbot, w)


def test_no_windows_left_after_close(qtbot, qapp_vispy, settings):
    from PySide6.QtWidgets import QApplication

    w = _window(qtbot, settings)
    _close(qtbot, w)
    visible = [x for x in QApplication.topLevelWidgets() if x.isVisible()]
    assert visible == []
