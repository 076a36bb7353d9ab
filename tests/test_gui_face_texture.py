"""The 3D face's video texture in the window: it is the frame the mesh belongs to (never another one, never
across a gap), it maps in "Expression only" too, and the "Video texture" toggle is kept in the preferences."""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_WolfgangLanger_Pexels.mp4"  # real video, with excluded frames (a hand over the face)


@pytest.fixture
def textured_session(gui_window, add_analysed, tmp_path):
    from facelens.core.results import SessionResults

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    sid, out = add_analysed(w.workspace, VIDEO, "P030")
    with SessionResults.open(out) as r:
        usable = np.asarray(r.usable)
        t = np.asarray(r.time_s)
    good, bad = np.flatnonzero(usable), np.flatnonzero(~usable)
    assert bad.size and good.size > 20
    # Record, for every draw request, the frame of the mesh and the frame of its texture.
    pairs: list[tuple[float | None, float | None]] = []
    face = w.face
    orig_vertices, orig_face = face.set_vertices, face.scene.set_face
    last = {"t": None}

    def set_vertices(vertices, reason="", excluded=True, **kw):
        last["t"] = kw.get("frame_time") if vertices is not None else None
        return orig_vertices(vertices, reason, excluded, **kw)

    def set_face(vertices, texture=None):
        if vertices is not None:
            pairs.append((last["t"], None if texture is None else texture.time_s))
        return orig_face(vertices, texture)

    face.set_vertices, face.scene.set_face = set_vertices, set_face
    assert w.open_session(sid)
    return w, t, good, bad, pairs


def _show(w, qtbot, t: float) -> np.ndarray:
    """Seek to ``t``, wait until the 3D face carries that frame's texture; the picture drawn then."""
    w.review.seek(t)
    i = w.review.current_frame
    ft = float(w.review.data.time_s[i])
    qtbot.waitUntil(lambda: w.face.scene.texture_time == ft, timeout=8000)
    return w.face.scene.render_image()[..., :3].astype(float)


def _face_pixels(picture: np.ndarray) -> np.ndarray:
    from facelens.render.colors import VIEWPORT_BG_RGBA

    return np.abs(picture - np.asarray(VIEWPORT_BG_RGBA[:3]) * 255).max(axis=2) > 20


def test_texture_is_the_meshs_own_frame_and_leaves_with_the_face(textured_session, qtbot):
    w, t, good, bad, pairs = textured_session
    face = w.face
    assert face.texture_box.isChecked()  # on by default
    a = _show(w, qtbot, float(t[good[5]]))
    b = _show(w, qtbot, float(t[good[-5]]))
    assert np.abs(a - b)[_face_pixels(a) | _face_pixels(b)].mean() > 10  # another frame, another face
    # An excluded frame hides the face and drops the texture; the next face carries only its own frame.
    w.review.seek(float(t[bad[len(bad) // 2]]))
    assert face.scene.mesh.visible is False and face.scene.texture_time is None
    c = _show(w, qtbot, float(t[good[len(good) // 2]]))
    assert _face_pixels(c).sum() > 1000
    for k in (1, 3, 7, 2, 9):  # stepping back and forth (decoded frames come from the loader's cache)
        _show(w, qtbot, float(t[good[k]]))
    assert pairs and all(tex is None or tex == mesh for mesh, tex in pairs), \
        "a mesh was drawn with the texture of another frame"
    assert sum(tex is not None for _m, tex in pairs) >= 8


def test_untextured_and_expression_only(textured_session, qtbot):
    w, t, good, _bad, _pairs = textured_session
    face = w.face
    at = float(t[good[len(good) // 3]])
    textured = _show(w, qtbot, at)
    qtbot.mouseClick(face.texture_box, _left())
    assert not face.texture_box.isChecked() and w.prefs.face_texture is False
    qtbot.waitUntil(lambda: face.scene.texture_time is None, timeout=3000)
    plain = face.scene.render_image()[..., :3].astype(float)
    mask = _face_pixels(plain)
    assert np.abs(textured - plain)[mask].mean() > 10, "the video texture did not change the face"
    qtbot.mouseClick(face.texture_box, _left())
    assert w.prefs.face_texture is True
    qtbot.waitUntil(lambda: face.scene.texture_time is not None, timeout=3000)
    # Pose-free mesh: the texture still maps (coordinates from the same frame's image positions).
    qtbot.mouseClick(face.posefree_box, _left())
    i = w.review.current_frame
    qtbot.waitUntil(lambda: face.scene.texture_time == float(w.review.data.time_s[i]), timeout=3000)
    posefree_textured = face.scene.render_image()[..., :3].astype(float)
    qtbot.mouseClick(face.texture_box, _left())
    qtbot.waitUntil(lambda: face.scene.texture_time is None, timeout=3000)
    posefree_plain = face.scene.render_image()[..., :3].astype(float)
    assert np.abs(posefree_textured - posefree_plain)[_face_pixels(posefree_plain)].mean() > 10


def test_video_texture_toggle_is_kept_in_the_preferences(gui_qapp, gui_settings, qtbot):
    from _face_views import face_view

    from facelens.viewmodel.settings import KEYS, AppSettings

    prefs = AppSettings(gui_settings)
    assert prefs.face_texture is True  # default: on
    with face_view(qtbot, gui_settings) as view:
        view.show()
        assert view.texture_box.isChecked()
        qtbot.mouseClick(view.texture_box, _left())
        gui_settings.sync()
        assert prefs.face_texture is False and gui_settings.value(KEYS["face_texture"]) == "false"
    with face_view(qtbot, gui_settings) as again:
        assert not again.texture_box.isChecked()  # read back at the next start


def test_window_starts_with_the_kept_choice(gui_qapp, gui_settings, qtbot):
    from facelens.gui.main_window import MainWindow
    from facelens.viewmodel.settings import AppSettings

    AppSettings(gui_settings).face_texture = False
    w = MainWindow(gui_settings)
    try:
        assert w.face.texture_box.text() == "Video texture" and not w.face.texture_box.isChecked()
    finally:
        w.force_quit = True
        w.close()


def _left():
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_late_or_missing_frames_never_freeze_the_face_nor_texture_it_wrongly(gui_window, qtbot):
    """Meshes arriving every 60 ms whose frames are never decoded (a failing decoder) are still drawn,
    untextured, within the wait; a frame then decoded textures only the mesh of its own time."""
    from PySide6.QtGui import QImage

    from facelens.core.face import geometry
    from facelens.gui.face_view import TEXTURE_WAIT_MS
    from facelens.render.face_mesh import upright_from_image

    tpl = np.asarray(geometry.template(), np.float32) * np.array([1, -1, -1], np.float32)
    lm = tpl / (tpl[:, 0].max() - tpl[:, 0].min()) * 200.0 + np.array([320.0, 240.0, 0.0], np.float32)
    view = gui_window.face  # the window's 3D view, no session open: meshes handed to it directly
    for k in range(8):  # 8 × 60 ms: longer than the wait, and every new mesh comes before it ends
        shifted = lm + np.array([2.0 * k, 0.0, 0.0], np.float32)
        view.set_vertices(upright_from_image(shifted), landmarks_px=shifted, frame_time=0.1 * k)
        qtbot.wait(60)
    assert 8 * 60 > TEXTURE_WAIT_MS
    assert view.scene.mesh.visible and view.scene.texture_time is None
    assert np.allclose(view.scene.vertices, upright_from_image(lm + np.array([14.0, 0, 0], np.float32)))
    frame = QImage(640, 480, QImage.Format.Format_RGB888)
    frame.fill(0x336699)
    view.set_frame(0.1 * 6, frame)  # an older frame than the mesh on screen (0.1 × 7): not its texture
    assert view.scene.texture_time is None
    view.set_frame(0.1 * 7, frame)
    assert view.scene.texture_time == 0.1 * 7


def test_the_t_key_and_the_view_menu_toggle_the_texture(gui_window, qtbot):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    w = gui_window
    box, action = w.face.texture_box, w.texture_action
    start = box.isChecked()
    assert action.isChecked() == start
    w.activateWindow()
    qtbot.waitActive(w)
    w.timeline.glw.setFocus()  # not a text field: there a letter is text, not a shortcut
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.timeline.glw, timeout=3000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_T)
    assert box.isChecked() != start and action.isChecked() == box.isChecked()
    box.setChecked(start)  # the checkbox and the menu entry stay in step
    assert action.isChecked() == start
