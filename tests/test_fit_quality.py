"""A mesh the face model cannot explain is flagged POOR_FIT by the session pass and keeps no values."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.affect.fer import FER_LABELS
from facelens.core.affect.g_runtime import load_default_g
from facelens.core.affect.g_session import g_session, in_memory
from facelens.core.common.types import Quality
from facelens.core.face.morphable import load_default
from facelens.core.face.morphable.fit import FIT_RESIDUAL_LIMIT

BROKEN = 7  # the frame whose mesh is made unlike any face


def _meshes(n: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model meshes of one person with varying expressions, one of them scrambled (points jittered
    by about a tenth of the eye distance, which no combination of face shapes reproduces)."""
    morph = load_default()
    rng = np.random.default_rng(seed)
    ident = rng.normal(size=morph.n_identity) * morph.identity_sd
    expr = rng.normal(size=(n, morph.n_expression)) * morph.expression_sd
    meshes = (morph.mean + np.einsum("k,kvc->vc", ident, morph.identity_basis)
              + np.einsum("nk,kvc->nvc", expr, morph.expression_basis))
    iod = np.linalg.norm(meshes[0, 263] - meshes[0, 33])
    meshes[BROKEN] += rng.normal(scale=0.1 * iod, size=meshes[BROKEN].shape)
    return meshes, np.arange(n) / 10.0, rng.dirichlet(np.ones(7), size=n)


def test_only_the_scrambled_mesh_exceeds_the_residual_limit_and_it_gets_no_values():
    meshes, t, fer = _meshes()
    res = g_session(in_memory(meshes, np.ones(len(t), bool)), t, fer, load_default(), load_default_g())
    assert np.flatnonzero(res.poor_fit).tolist() == [BROKEN]
    assert res.residual[BROKEN] > FIT_RESIDUAL_LIMIT > np.nanmax(np.delete(res.residual, BROKEN)) * 3
    assert np.isnan(res.expression[BROKEN]).all() and np.isnan(res.valence_arousal[BROKEN]).all()
    assert np.isnan(res.identity_frames[BROKEN]).all() and not res.usable[BROKEN]
    others = np.delete(np.arange(len(t)), BROKEN)
    assert np.isfinite(res.valence_arousal[others]).all() and res.usable[others].all()


def _stored(tmp_path, meshes, t, fer):
    """A partial results file whose frames are ``meshes`` at the identity pose (what the pipeline
    has written when the session pass starts)."""
    from facelens.core.results import ResultsWriter

    morph, n = load_default(), len(t)
    w = ResultsWriter(tmp_path / "r.h5", {}, expression_names=["e"], emotion_labels=list(FER_LABELS),
                      coef_sizes=(morph.n_expression, morph.n_identity), appearance=True)
    w.append({"time_s": t, "frame_index": np.arange(n), "quality": np.zeros(n, np.uint8),
              "landmarks": meshes.astype(np.float32), "rotation": np.repeat(np.eye(3)[None], n, 0),
              "translation": np.zeros((n, 3)), "scale": np.ones(n), "valence": np.full(n, 0.1),
              "arousal": np.full(n, 0.2), "emotions": fer, "emotions_appearance": fer})
    return w


@pytest.mark.parametrize("estimator", ["g", "circumplex"])
def test_the_session_pass_flags_the_frame_clears_its_values_and_gives_the_same_bits_when_run_again(
        tmp_path, estimator):
    from facelens.core.affect.g_stage import GEstimator
    from facelens.core.analysis.recon_stage import ReconStage
    from facelens.core.analysis.session_pass import run_session_pass
    from facelens.core.results import SessionResults

    w = _stored(tmp_path, *_meshes())
    g = GEstimator.default(list(FER_LABELS)) if estimator == "g" else None
    names = ("quality", "valence", "arousal", "emotions", "emotions_appearance", "coef_exp", "coef_id", "fit_residual")
    runs = []
    for _ in range(2):  # a resumed analysis runs the pass again on its own output
        list(run_session_pass(w, ReconStage(), g))
        runs.append({k: w.column(k, 0, w.n_done).copy() for k in names})
    for k in names:
        np.testing.assert_array_equal(runs[0][k], runs[1][k], err_msg=k)
    path = w.finish()
    with SessionResults.open(path) as r:
        assert np.flatnonzero(r.quality == Quality.POOR_FIT).tolist() == [BROKEN]
        assert not r.usable[BROKEN] and r.usable.sum() == len(r.quality) - 1
        assert r.discard_counts()["mesh the face model cannot fit"] == 1
        for k in ("valence", "arousal", "emotions", "emotions_appearance", "coef_exp"):
            assert np.isnan(np.asarray(getattr(r, k))[BROKEN]).all(), k
            assert np.isfinite(np.asarray(getattr(r, k))[r.usable]).all(), k
        assert r.fit_residual[BROKEN] > FIT_RESIDUAL_LIMIT  # the reason stays visible
