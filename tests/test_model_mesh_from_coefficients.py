"""The morphable model's mesh of given coefficients (``model_meshes``) and the 3D view's model meshes of a
session (``render.model_meshes``): known coefficient vectors, N frames at once, frames without a fit."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.face.morphable.model import N_VERTICES, MorphableError, MorphableModel, model_meshes


def _model(k_id: int = 4, k_exp: int = 3, seed: int = 0) -> MorphableModel:
    rng = np.random.default_rng(seed)

    def basis(k: int) -> np.ndarray:
        q, _ = np.linalg.qr(rng.normal(size=(N_VERTICES * 3, k)))
        return q.T.reshape(k, N_VERTICES, 3)

    return MorphableModel(mean=rng.normal(size=(N_VERTICES, 3)), identity_basis=basis(k_id),
                          expression_basis=basis(k_exp), identity_sd=np.ones(k_id), expression_sd=np.ones(k_exp),
                          noise_sd=0.1)


def test_known_coefficients_give_mean_plus_the_scaled_basis_rows():
    m = _model()
    ident = np.array([0.0, 2.0, 0.0, 0.0])
    expr = np.array([0.0, 0.0, -1.5])
    got = model_meshes(m, ident, expr)
    assert got.shape == (N_VERTICES, 3)
    want = m.mean + 2.0 * m.identity_basis[1] - 1.5 * m.expression_basis[2]
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(model_meshes(m, None, None), m.mean, atol=1e-6)  # mean identity, no expression
    np.testing.assert_allclose(model_meshes(m, ident, None), m.mean + 2.0 * m.identity_basis[1], atol=1e-5)
    # unit-norm basis rows: a coefficient is the length of the displacement (cm)
    assert np.linalg.norm(model_meshes(m, None, expr) - m.mean) == pytest.approx(1.5, rel=1e-5)


def test_n_frames_at_once_match_frame_by_frame_and_nan_gives_nan():
    m = _model()
    rng = np.random.default_rng(1)
    ids, exps = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    exps[3] = np.nan  # a frame without a fit
    batch = model_meshes(m, ids, exps)
    assert batch.shape == (5, N_VERTICES, 3)
    for n in (0, 1, 2, 4):
        np.testing.assert_allclose(batch[n], model_meshes(m, ids[n], exps[n]), atol=1e-5)
    assert np.isnan(batch[3]).all() and np.isfinite(batch[[0, 1, 2, 4]]).all()


def test_wrong_width_is_refused():
    with pytest.raises(MorphableError, match="width"):
        model_meshes(_model(), np.zeros(5), None)


def test_shipped_model_mesh_of_its_first_components():
    from facelens.core.face.morphable.model import load_default

    m = load_default()
    ident = np.zeros(m.n_identity)
    ident[0] = m.identity_sd[0]
    expr = np.zeros(m.n_expression)
    expr[0] = -2 * m.expression_sd[0]
    want = m.mean.astype(np.float64) + ident[0] * m.identity_basis[0] + expr[0] * m.expression_basis[0]
    np.testing.assert_allclose(model_meshes(m, ident, expr), want, atol=1e-4)


def test_session_meshes_per_mode():
    from facelens.render.face_mesh import normalise_extent
    from facelens.render.model_meshes import NO_FIT, ModelMeshes, fit_columns

    m = _model()
    rng = np.random.default_rng(2)
    ids, exps = rng.normal(size=(4, 4)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    ids[3] = exps[3] = np.nan  # the last frame is unusable: the session's identity is frame 2's
    mm = ModelMeshes(m, ids, exps)
    assert mm.why == ""
    np.testing.assert_allclose(mm.view(1, "reconstruction"), normalise_extent(model_meshes(m, ids[1], exps[1])),
                               atol=1e-5)
    np.testing.assert_allclose(mm.view(1, "expression"), normalise_extent(model_meshes(m, None, exps[1])),
                               atol=1e-5)
    neutral = mm.view(0, "neutral")
    np.testing.assert_allclose(neutral, normalise_extent(model_meshes(m, ids[2], None)), atol=1e-5)
    assert mm.view(3, "neutral") is neutral  # one mesh for the session, whatever the frame
    assert mm.view(3, "reconstruction") is None and mm.view(9, "expression") is None
    assert ModelMeshes(_model(k_exp=2), ids, exps).why.startswith("this analysis was fitted with another")
    ref = rng.normal(size=4).astype(np.float32)  # the session pass's stored reference wins over the last frame
    np.testing.assert_allclose(ModelMeshes(m, ids, exps, ref).view(0, "neutral"),
                               normalise_extent(model_meshes(m, ref, None)), atol=1e-5)

    class Results:
        coef_id = coef_exp = None

    class Data:
        results, live = Results(), False

    assert fit_columns(Data())[2] == NO_FIT == "this analysis has no morphable fit; re-analyse"


def test_mode_names_agree_with_the_settings():
    from facelens.render.model_meshes import MESH_CHOICES, MODEL_MODES
    from facelens.viewmodel.settings import MESH_MODES

    assert MESH_MODES == ("tracked", *MODEL_MODES) and set(MESH_CHOICES) == set(MESH_MODES)
