"""The 3D view's "Mesh" choice: the morphable model's reconstruction, the expression on the mean face and the
session's neutral reference are drawn from the frame's stored coefficients; model meshes are never textured;
an analysis without the fit disables them; the choice is kept in the preferences."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def _old_schema(src, dst):
    """A copy of a results file without the morphable fit (as written before schema 2)."""
    import h5py

    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        for name in ("coef_exp", "coef_id", "fit_residual"):
            if name in f["frames"]:
                del f["frames"][name]
        f.attrs["schema_version"] = 1
    return dst


@pytest.fixture
def demo_window(gui_window, demo_session, tmp_path, qtbot):
    from _gui_sessions import add_session

    from facelens.core.results import SessionResults

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    sid, _ = add_session(w.workspace, demo_session.video, "P100", demo_session.results)
    old, _ = add_session(w.workspace, demo_session.video, "P101", _old_schema(demo_session.results, tmp_path / "old.h5"))
    with SessionResults.open(demo_session.results) as r:
        cols = {"time": np.asarray(r.time_s), "id": np.asarray(r.coef_id), "exp": np.asarray(r.coef_exp),
                "reference": np.asarray(r.meta["session_identity"]),
                "usable": np.asarray(r.usable)}
    assert w.open_session(sid)
    return w, sid, old, cols


def _ready(w, qtbot):
    from facelens.render.model_meshes import LOADING

    qtbot.waitUntil(lambda: w.face.mesh_box.choice.why != LOADING, timeout=10000)


def _at(w, t):
    w.review.seek(float(t))
    return w.review.current_frame


def _want(kind, cols, i):
    from facelens.core.face.morphable.model import load_default, model_meshes
    from facelens.render.face_mesh import normalise_extent

    m = load_default()
    if kind == "neutral":  # the person's reference face that the session pass stored
        return normalise_extent(model_meshes(m, cols["reference"], None))
    return normalise_extent(model_meshes(m, cols["id"][i] if kind == "reconstruction" else None, cols["exp"][i]))


def test_mesh_choice_draws_the_model_mesh_of_the_frame(demo_window, qtbot):
    w, _sid, _old, cols = demo_window
    face = w.face
    _ready(w, qtbot)
    i = _at(w, 8.0)  # smiling
    tracked = face.scene.vertices.copy()
    assert face.mesh_box.set_mode("reconstruction") and face.mesh_mode == "reconstruction"
    assert w.mesh_actions["reconstruction"].isChecked() and face.mesh_box.currentText() == "Reconstruction"
    recon = face.scene.vertices.copy()
    np.testing.assert_allclose(recon, _want("reconstruction", cols, i), atol=1e-5)
    assert face.scene.mesh.visible
    # like a face: close to the tracked pose-free mesh, not equal to it (both one unit wide)
    posefree = w.review.data.view_mesh(i, posefree=True)
    gap = np.linalg.norm(recon[:468] - posefree[:468], axis=1).mean()
    assert 0 < gap < 0.03, gap
    w.mesh_actions["expression"].trigger()  # the View menu entry
    assert face.mesh_mode == "expression" and face.mesh_box.currentText() == "Expression on mean face"
    np.testing.assert_allclose(face.scene.vertices, _want("expression", cols, i), atol=1e-5)
    assert np.abs(face.scene.vertices - recon).max() > 1e-3  # another mesh than the reconstruction
    j = _at(w, 20.0)  # sad: the frame's own coefficients
    np.testing.assert_allclose(face.scene.vertices, _want("expression", cols, j), atol=1e-5)
    face.mesh_box.setCurrentIndex(0)  # back to "Tracked" in the box
    assert face.mesh_mode == "tracked" and w.mesh_actions["tracked"].isChecked()
    # the tracked mesh of this frame again (once its video frame is there for the texture)
    qtbot.waitUntil(lambda: np.allclose(face.scene.vertices, w.review.data.view_mesh(j), atol=1e-5), timeout=3000)
    assert not np.allclose(face.scene.vertices, _want("expression", cols, j), atol=1e-3)
    assert tracked.shape == face.scene.vertices.shape


def test_neutral_reference_does_not_change_between_frames(demo_window, qtbot):
    w, _sid, _old, cols = demo_window
    face = w.face
    _ready(w, qtbot)
    face.mesh_box.set_mode("neutral")
    shown = []
    for t in (2.0, 8.0, 20.0, 30.0):
        i = _at(w, t)
        shown.append(face.scene.vertices.copy())
        assert face.scene.mesh.visible and i >= 0
    for v in shown:
        np.testing.assert_array_equal(v, shown[0])
    np.testing.assert_allclose(shown[0], _want("neutral", cols, 0), atol=1e-5)
    # the reconstruction of those frames does change (smile, sad, surprise)
    face.mesh_box.set_mode("reconstruction")
    a, b = (_want("reconstruction", cols, _at(w, t)) for t in (8.0, 30.0))
    assert np.abs(a - b).max() > 1e-2


def test_model_meshes_are_never_textured_and_disable_the_toggles(demo_window, qtbot):
    w, _sid, _old, _cols = demo_window
    face = w.face
    _ready(w, qtbot)
    i = _at(w, 8.0)
    ft = float(w.review.data.time_s[i])
    qtbot.waitUntil(lambda: face.scene.texture_time == ft, timeout=8000)  # tracked: textured
    w.next_mesh_action.trigger()  # F: the next mesh
    assert face.mesh_mode == "reconstruction"
    assert face.scene.texture_time is None
    assert not face.texture_box.isEnabled() and "tracked landmarks" in face.texture_box.toolTip()
    assert not w.texture_action.isEnabled() and not face.posefree_box.isEnabled()
    assert face.texture_box.isChecked()  # the preference is kept, only not applied
    _at(w, 9.0)
    qtbot.wait(300)  # the frame is decoded meanwhile: still no texture on a model mesh
    assert face.scene.texture_time is None
    face.mesh_box.set_mode("tracked")
    assert face.texture_box.isEnabled() and w.texture_action.isEnabled() and face.posefree_box.isEnabled()
    i = w.review.current_frame
    qtbot.waitUntil(lambda: face.scene.texture_time == float(w.review.data.time_s[i]), timeout=8000)


def test_frames_without_a_fit_hide_the_face(demo_window, qtbot):
    w, _sid, _old, cols = demo_window
    face = w.face
    _ready(w, qtbot)
    face.mesh_box.set_mode("reconstruction")
    bad = np.flatnonzero(~cols["usable"])
    assert bad.size
    _at(w, cols["time"][bad[0]])
    assert not face.scene.mesh.visible and face.status.text()
    good = np.flatnonzero(cols["usable"])
    _at(w, cols["time"][good[10]])
    assert face.scene.mesh.visible
    # a usable frame whose coefficients are NaN (not fitted)
    k = good[20]
    face.mesh_box.choice.fit.fitted[k] = False
    _at(w, cols["time"][k])
    assert not face.scene.mesh.visible and face.status.text() == "no morphable fit at this frame"


def test_old_schema_file_disables_the_model_choices_and_nothing_stale_shows(demo_window, qtbot):
    from facelens.render.model_meshes import NO_FIT

    w, sid, old, cols = demo_window
    face = w.face
    _ready(w, qtbot)
    face.mesh_box.set_mode("reconstruction")
    _at(w, 8.0)
    recon = face.scene.vertices.copy()
    assert w.open_session(old)
    _at(w, 8.0)
    assert face.mesh_mode == "tracked" and w.prefs.face_mesh == "reconstruction"  # kept for later
    items = face.mesh_box.model()
    for k in (1, 2, 3):
        assert not items.item(k).isEnabled() and items.item(k).toolTip() == NO_FIT
    assert not face.mesh_box.set_mode("neutral") and face.mesh_mode == "tracked"
    assert all(not w.mesh_actions[m].isEnabled() for m in ("reconstruction", "expression", "neutral"))
    assert w.mesh_actions["tracked"].isChecked() and face.texture_box.isEnabled()
    qtbot.waitUntil(lambda: np.allclose(face.scene.vertices, w.review.data.view_mesh(w.review.current_frame),
                                        atol=1e-5), timeout=3000)  # this session's tracked mesh
    assert not np.allclose(face.scene.vertices, recon, atol=1e-3)
    assert w.open_session(sid)  # back to a session with the fit: the kept choice again
    _ready(w, qtbot)
    i = _at(w, 20.0)
    assert face.mesh_mode == "reconstruction"
    np.testing.assert_allclose(face.scene.vertices, _want("reconstruction", cols, i), atol=1e-5)


def test_mesh_choice_is_kept_in_the_preferences(gui_qapp, gui_settings, qtbot):
    from _face_views import face_view

    from facelens.viewmodel.settings import KEYS, AppSettings

    prefs = AppSettings(gui_settings)
    assert prefs.face_mesh == "tracked"
    with face_view(qtbot, gui_settings) as view:
        assert not view.mesh_box.set_mode("neutral")  # no session: model meshes unavailable, nothing kept
        assert prefs.face_mesh == "tracked"
        view.mesh_box.choice.why = ""  # as for a session with a fit
        assert view.mesh_box.set_mode("expression")
        gui_settings.sync()
        assert gui_settings.value(KEYS["face_mesh"]) == "expression"
    with face_view(qtbot, gui_settings) as again:
        assert again.mesh_box.choice.wanted == "expression"
