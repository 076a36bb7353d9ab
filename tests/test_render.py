"""The 3D face visual: geometry helpers (no display) and an offscreen render (needs Xvfb/OpenGL)."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.render.colors import SKIN_RGBA, VIEWPORT_BG_RGBA, hex_to_rgba, label_color
from facelens.render.face_mesh import face_triangles, normalise_extent, upright_from_image, vertex_normals


@pytest.fixture(scope="module")
def qapp_vispy(qapp):
    """The Qt application with VisPy bound to PySide6 (before any canvas: FACTS.md)."""
    import vispy

    vispy.use(app="pyside6")
    return qapp


def _template_px() -> np.ndarray:
    """The neutral template placed like a frontal face in a 640×480 image (x right, y down, z away)."""
    from facelens.core.face import geometry

    tpl = np.asarray(geometry.template(), dtype=np.float32) * np.array([1, -1, -1], np.float32)  # y up -> down
    width = tpl[:, 0].max() - tpl[:, 0].min()
    return tpl / width * 200.0 + np.array([320.0, 240.0, 0.0], np.float32)


def test_vertex_normals_of_a_flat_square_point_along_z():
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], np.float32)
    f = np.array([[0, 1, 2], [0, 2, 3]])
    n = vertex_normals(v, f)
    assert np.allclose(n, [[0, 0, 1]] * 4)


def test_upright_view_is_centred_unit_wide_and_keeps_orientation():
    lm = np.array([[100, 50, 0], [300, 50, 0], [200, 250, -30]], np.float32)  # chin lower, nose nearer
    up = upright_from_image(lm)
    assert np.allclose(up.mean(0), 0, atol=1e-6)
    assert up[:, 0].max() - up[:, 0].min() == pytest.approx(1.0)
    assert up[2, 1] < up[0, 1]  # image-down becomes view-down (y up)
    assert up[2, 2] > up[0, 2]  # nearer the camera becomes +z (towards the viewer)
    assert normalise_extent(np.zeros((3, 3)))[0, 0] == 0  # degenerate width does not divide by zero


def test_face_normals_point_towards_the_viewer():
    tri = face_triangles()
    assert tri.shape == (852, 3)
    v = upright_from_image(_template_px())
    n = vertex_normals(v, tri)
    assert n[:, 2].mean() > 0.4  # a frontal face's normals mostly face +z, the camera's side


def test_label_colours_are_stable_hex():
    for lab in ("happy", "sad", "neutral", "some-new-label"):
        c = label_color(lab)
        assert c.startswith("#") and len(c) == 7
        assert label_color(lab) == c
    assert label_color("happy") != label_color("sad")
    assert hex_to_rgba("#FF0000") == (1.0, 0.0, 0.0, 1.0)


@pytest.mark.gui
def test_offscreen_render_shows_a_skin_coloured_face_in_the_centre(qapp_vispy):
    from facelens.render.face_mesh import FaceScene

    scene = FaceScene(size=(200, 200))
    try:
        blank = scene.render()
        assert np.abs(blank[100, 100, :3] / 255.0 - VIEWPORT_BG_RGBA[:3]).max() < 0.03  # nothing yet
        scene.set_face(upright_from_image(_template_px()))
        img = scene.render()[..., :3].astype(float) / 255.0
        centre = img[90:110, 90:110].reshape(-1, 3).mean(0)
        assert np.abs(centre - VIEWPORT_BG_RGBA[:3]).max() > 0.2, "centre is background"
        r, g, b = centre
        assert r > g > b and r > 0.4, f"centre {centre} is not a lit skin tone ({SKIN_RGBA})"
        # A second frame re-uses the program: only buffers change, and the picture follows the mesh.
        shifted = upright_from_image(_template_px()) + np.array([0.6, 0, 0], np.float32)
        scene.set_face(shifted)
        img2 = scene.render()[..., :3].astype(float) / 255.0
        assert np.abs(img2[100, 60] - VIEWPORT_BG_RGBA[:3]).max() < 0.03  # the face moved right
    finally:
        scene.close()


@pytest.mark.gui
def test_public_vispy_path_draws_the_same_face(qapp_vispy, monkeypatch):
    """The mesh update through VisPy's public API (the fallback for a release without the internals the
    fast path fills) draws the same picture as the fast path."""
    from facelens.render.face_mesh import FaceMeshVisual, FaceScene

    face = upright_from_image(_template_px())
    shifted = face + np.array([0.3, 0, 0], np.float32)
    pictures = []
    for private in (True, False):
        monkeypatch.setattr(FaceMeshVisual, "use_private_api", private)
        scene = FaceScene(size=(160, 160))
        try:
            scene.set_face(face)
            scene.render()
            scene.set_face(shifted)  # a second frame: the update path, not the first upload
            pictures.append(scene.render()[..., :3].astype(float) / 255.0)
        finally:
            scene.close()
    fast, public = pictures
    assert np.abs(fast[80, 80] - VIEWPORT_BG_RGBA[:3]).max() > 0.2  # a face is drawn
    assert np.abs(fast - public).max() < 0.02
