"""The 3D face visual: geometry helpers (no display) and an offscreen render (needs Xvfb/OpenGL)."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.render.colors import SKIN_RGBA, VIEWPORT_BG_RGBA, hex_to_rgba, label_color
from facelens.render.face_mesh import face_triangles, normalise_extent, upright_from_image, vertex_normals


@pytest.fixture
def qapp_vispy(gui_qapp):
    """The shared GUI application fixture (VisPy bound to PySide6, collection on the GUI thread)."""
    return gui_qapp


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
    from facelens.render.face_texture import from_frame

    face = upright_from_image(_template_px())
    shifted = face + np.array([0.3, 0, 0], np.float32)
    tex = from_frame(_gradient_frame(), _template_px() + np.array([0.3 * 200, 0, 0], np.float32), time_s=1.0)
    pictures = []
    for private in (True, False):
        monkeypatch.setattr(FaceMeshVisual, "use_private_api", private)
        scene = FaceScene(size=(160, 160))
        try:
            scene.set_face(face)
            scene.render()
            scene.set_face(shifted)  # a second frame: the update path, not the first upload
            pictures.append(scene.render()[..., :3].astype(float) / 255.0)
            scene.set_face(shifted, tex)  # and with the video texture
            pictures.append(scene.render()[..., :3].astype(float) / 255.0)
        finally:
            scene.close()
    fast, fast_tex, public, public_tex = pictures
    assert np.abs(fast[80, 80] - VIEWPORT_BG_RGBA[:3]).max() > 0.2  # a face is drawn
    assert np.abs(fast - public).max() < 0.02
    assert np.abs(fast_tex - fast).max() > 0.1 and np.abs(fast_tex - public_tex).max() < 0.02


# -- closed mesh and video texture -------------------------------------------------------------------------
def _welded_edges(faces: np.ndarray, weld: np.ndarray):
    from collections import Counter

    f = weld[np.asarray(faces, np.int64)]
    return Counter((int(t[k]), int(t[(k + 1) % 3])) for t in f for k in range(3))


def test_closed_face_has_no_boundary_and_one_winding():
    """Every edge of the closed face (loop copies welded to the vertices they copy) is shared by exactly two
    triangles, run once each way; the open MediaPipe surface alone has its four boundary loops."""
    from facelens.core.face import topology
    from facelens.render.face_closure import closed_face

    c = closed_face()
    assert len(topology.boundary_loops(face_triangles())) == 4  # outline, lips, two eyes: what is closed
    directed = _welded_edges(c.faces, c.weld)
    assert all(n == 1 for n in directed.values()), "an edge runs twice the same way (inconsistent winding)"
    assert all((b, a) in directed for a, b in directed), "an edge belongs to one triangle only (a hole)"
    assert topology.boundary_loops(c.weld[c.faces.astype(np.int64)]) == []
    assert np.array_equal(c.faces[: len(face_triangles())], face_triangles())  # the face itself unchanged


def test_closed_face_encloses_a_head_sized_volume_with_outward_normals():
    from facelens.render.face_closure import close_vertices, closed_face

    c = closed_face()
    v = close_vertices(upright_from_image(_template_px()), c)
    assert v.shape == (c.n_vertices, 3) and np.all(np.isfinite(v))
    assert np.allclose(v[c.n_base:][: len(c.outline)], v[c.outline])  # the outline's copy: no crack
    tri = v[c.faces.astype(np.int64)]
    volume = float(np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum()) / 6.0
    assert volume > 0.3  # positive: outward winding; a face one unit wide, about one unit deep
    back = v[c.shell[-1]]
    assert back[2] < v[: c.n_base, 2].min() - 0.5  # the back of the head lies well behind the face


def _gradient_frame(w: int = 640, h: int = 480, invert: bool = False) -> np.ndarray:
    """A frame whose red channel grows to the right, green downwards, blue constant (128)."""
    x = np.linspace(20, 235, w)[None, :].repeat(h, 0)
    y = np.linspace(20, 235, h)[:, None].repeat(w, 1)
    if invert:
        x, y = x[:, ::-1], y[::-1]
    return np.stack([x, y, np.full((h, w), 128.0)], axis=2).astype(np.uint8)


def test_texture_coordinates_are_the_landmarks_image_positions():
    from facelens.render.face_texture import from_frame

    lm = _template_px()
    rgb = _gradient_frame()
    tex = from_frame(rgb, lm, time_s=1.5)
    h, w = tex.image.shape[:2]
    assert tex.time_s == 1.5 and 0 < w < 640 and 0 < h < 480  # a crop, not the whole frame
    for k in (1, 10, 152, 234, 454):  # nose tip, forehead, chin, both sides
        x, y = lm[k, :2]
        u, v = tex.uv[k]
        crop_px = tex.image[min(int(v * h), h - 1), min(int(u * w), w - 1)].astype(int)
        assert np.abs(crop_px - rgb[int(y), int(x)].astype(int)).max() <= 2
    assert tex.uv[10, 1] < tex.uv[152, 1]  # v grows down the image: forehead above chin, nothing flipped
    small = from_frame(rgb, lm, max_side=50)
    assert max(small.image.shape[:2]) == 50 and np.allclose(small.uv, tex.uv)


@pytest.mark.gui
def test_video_texture_maps_upright_changes_with_the_frame_and_leaves_with_the_face(qapp_vispy):
    from facelens.render.face_mesh import FaceScene
    from facelens.render.face_texture import from_frame

    lm = _template_px()
    face = upright_from_image(lm)
    scene = FaceScene(size=(200, 200))
    try:  # render_image: the light follows the camera (as in the GUI)
        scene.set_face(face)
        plain = scene.render_image()[..., :3].astype(float)
        scene.set_face(face, from_frame(_gradient_frame(), lm, time_s=1.0))
        a = scene.render_image()[..., :3].astype(float)
        assert scene.texture_time == 1.0
        # The video's own eyes and mouth replace the drawn eyeballs, irises and mouth interior.
        assert not any(m.visible for m in (*scene.parts.eyeballs, *scene.parts.irises, scene.parts.mouth))
        scene.set_face(face, from_frame(_gradient_frame(invert=True), lm, time_s=2.0))
        b = scene.render_image()[..., :3].astype(float)
        mask = np.abs(plain - np.asarray(VIEWPORT_BG_RGBA[:3]) * 255).max(axis=2) > 30  # the face's pixels
        assert mask.sum() > 2000
        assert np.abs(a - plain)[mask].mean() > 20, "the textured face looks like the untextured one"
        assert np.abs(a - b)[mask].mean() > 20, "two frames give the same texture"
        # Shading scales all three channels alike: red/blue follows image x, green/blue image y.
        ys, xs = np.nonzero(mask)
        top, bottom = a[ys.min() + 8, 100], a[ys.max() - 8, 100]
        left, right = a[100, xs.min() + 8], a[100, xs.max() - 8]
        assert top[1] / top[2] < bottom[1] / bottom[2], "the texture is upside down (v flipped)"
        assert left[0] / left[2] < right[0] / right[2], "the texture is mirrored"
        # From behind: the back shell in one skin colour, not the face's picture seen from inside a mask.
        scene.view.camera.azimuth = 270.0
        back = scene.render_image()[90:110, 90:110, :3].astype(float)
        ratio = back[..., 0] / np.maximum(back[..., 2], 1.0)
        assert np.abs(back - np.asarray(VIEWPORT_BG_RGBA[:3]) * 255).max() > 30 and ratio.std() < 0.03
        scene.reset_view()
        scene.set_face(None)  # an excluded frame: the texture goes with the face
        assert scene.texture_time is None
        scene.set_face(face)
        again = scene.render_image()[..., :3].astype(float)
        assert np.abs(again - plain).max() <= 2, "a frame's texture survived the gap"
        assert all(m.visible for m in (*scene.parts.eyeballs, *scene.parts.irises, scene.parts.mouth))
    finally:
        scene.close()


def test_report_snapshot_is_plain_skin_whatever_the_video():
    """The report's face snapshot (``snapshot.render_face``) takes only a mesh: no texture can reach it, and
    every face pixel is a shade of the one skin colour (or the openings' colour), never picture content."""
    import inspect

    from facelens.core.face import geometry
    from facelens.render.snapshot import OPENING_RGB, SKIN_RGB, render_face

    params = set(inspect.signature(render_face).parameters)
    assert params == {"mesh", "size", "yaw_deg", "pitch_deg", "background"}
    img = render_face(np.asarray(geometry.template(), np.float32), size=160).astype(float)
    face = img.min(axis=2) < 250
    inner = face.copy()  # pixels whose 3×3 neighbourhood is all face (no blend with the white background)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            inner &= np.roll(np.roll(face, dy, 0), dx, 1)
    px = img[inner]
    assert len(px) > 3000
    shade = px / (np.asarray(SKIN_RGB) * 255.0)
    skin = (shade.max(axis=1) - shade.min(axis=1)) < 0.03 * shade.mean(axis=1) + 0.01
    opening = np.abs(px - np.asarray(OPENING_RGB) * 255.0).max(axis=1) < 3
    assert (skin | opening).mean() > 0.97
