"""The morphable model: rebuilding from a small synthetic corpus, fitting, the shipped file."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.face import geometry
from facelens.core.face.morphable import MorphableModel, SessionFitter, fit_session, load_default
from facelens.core.face.morphable.build import BuildData, build_model, rigid_irises


def _orthonormal(rng: np.random.Generator, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """k random smooth unit directions over the 478 points (irises rigid with their eye)."""
    t = geometry.template()
    rows = []
    for _ in range(k):
        c = rng.normal(size=(3, 3))
        d = np.tanh(t / 5.0) @ c + 0.3 * np.sin(t[:, [1, 2, 0]] * rng.uniform(0.2, 0.6))
        rows.append((rigid_irises((t + d)[None])[0] - rigid_irises(t[None])[0]).reshape(-1))
    q, _ = np.linalg.qr(np.array(rows).T)
    return q.T


def _truth(seed: int = 0) -> MorphableModel:
    rng = np.random.default_rng(seed)
    basis = _orthonormal(rng, 7)
    return MorphableModel(mean=rigid_irises(geometry.template()[None])[0], identity_basis=basis[:3],
                          expression_basis=basis[3:], identity_sd=[0.8, 0.5, 0.3],
                          expression_sd=[0.6, 0.4, 0.25, 0.15], noise_sd=0.003)


def _corpus(model: MorphableModel, rng: np.random.Generator) -> BuildData:
    def shapes(n: int, ident: np.ndarray | None, expressive: bool) -> np.ndarray:
        a = ident if ident is not None else rng.normal(size=(n, 3)) * model.identity_sd
        e = rng.normal(size=(n, 4)) * model.expression_sd if expressive else np.zeros((n, 4))
        v = model.vertices(a, e).astype(np.float64)
        return v + rng.normal(scale=model.noise_sd, size=v.shape)

    videos = []
    for _ in range(6):
        ident = np.repeat(rng.normal(size=(1, 3)) * model.identity_sd, 80, axis=0)
        videos.append(shapes(80, ident, True))
    return BuildData(neutral_stills=shapes(60, None, False), expressive_stills=np.zeros((0, 478, 3)), videos=videos)


def _subspace_cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between the row spaces of a and b."""
    qa, _ = np.linalg.qr(a.reshape(len(a), -1).T)
    qb, _ = np.linalg.qr(b.reshape(len(b), -1).T)
    return np.linalg.svd(qa.T @ qb, compute_uv=False)


def test_rebuild_from_small_corpus_recovers_the_bases(tmp_path):
    truth = _truth()
    model = build_model(_corpus(truth, np.random.default_rng(1)), k_id=3, k_exp=4)
    assert model.mean.shape == (478, 3) and model.identity_basis.shape == (3, 478, 3)
    assert _subspace_cos(model.identity_basis, truth.identity_basis).min() > 0.97
    assert _subspace_cos(model.expression_basis, truth.expression_basis).min() > 0.97
    assert np.all(np.diff(model.expression_sd) <= 0)
    np.testing.assert_allclose(model.expression_sd, truth.expression_sd, rtol=0.3)
    assert 0.5 < model.noise_sd / truth.noise_sd < 3.0
    back = MorphableModel.load(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(back.expression_basis, model.expression_basis)
    assert back.meta["n_video_people"] == 6


def test_fit_recovers_known_coefficients():
    model = load_default()
    rng = np.random.default_rng(3)
    ident = rng.normal(size=model.n_identity) * model.identity_sd
    expr = rng.normal(size=(60, model.n_expression)) * model.expression_sd
    shapes = model.vertices(np.repeat(ident[None], 60, axis=0), expr).astype(np.float64)
    shapes += rng.normal(scale=0.5 * model.noise_sd, size=shapes.shape)
    fit = fit_session(shapes, np.ones(60, bool), model=model, causal=False)
    lead = slice(0, 4)  # the leading components carry almost all the motion
    err = np.abs(fit.expression[:, lead] - expr[:, lead]) / model.expression_sd[lead]
    assert np.median(err) < 0.1
    assert np.median(fit.residual) < 0.01  # inter-ocular units
    recon = model.vertices(fit.identity, fit.expression)
    assert np.abs(recon - shapes).mean() < 2 * model.noise_sd


def test_causal_fit_is_the_same_for_any_batching():
    model = load_default()
    rng = np.random.default_rng(4)
    shapes = model.vertices(rng.normal(size=(45, model.n_identity)) * model.identity_sd * 0.2,
                            rng.normal(size=(45, model.n_expression)) * model.expression_sd).astype(np.float64)
    usable = rng.random(45) > 0.2
    shapes[~usable] = np.nan
    whole = fit_session(shapes, usable, model=model)
    fitter = SessionFitter(model)
    parts = [fitter.update(shapes[i:i + 7], usable[i:i + 7]) for i in range(0, 45, 7)]
    np.testing.assert_array_equal(np.concatenate([p.expression for p in parts]), whole.expression)
    np.testing.assert_array_equal(fitter.identity, whole.identity)
    assert np.isnan(whole.expression[~usable]).all() and np.isfinite(whole.expression[usable]).all()


def test_shipped_model_api():
    m = load_default()
    assert m.mean.dtype == np.float32 and m.mean.shape == (478, 3)
    assert m.identity_basis.shape == (len(m.identity_sd), 478, 3)
    assert m.expression_basis.shape == (len(m.expression_sd), 478, 3)
    g = m.expression_basis.reshape(m.n_expression, -1) @ m.expression_basis.reshape(m.n_expression, -1).T
    np.testing.assert_allclose(g, np.eye(m.n_expression), atol=1e-4)
    assert m.vertices(np.zeros((2, 5, m.n_identity)), np.zeros((2, 5, m.n_expression))).shape == (2, 5, 478, 3)
    assert m.vertex_weight[468:].sum() == 0


def test_build_model_cli_refuses_a_bad_dataset(tmp_path, capsys):
    from facelens.cli import main

    code = main(["recon", "build-model", "--dataset", str(tmp_path / "none"), "--stills", str(tmp_path),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["missing.npz", "junk.npz"])
def test_load_refuses_bad_files(tmp_path, bad):
    from facelens.core.face.morphable import MorphableError

    p = tmp_path / bad
    if bad == "junk.npz":
        p.write_bytes(b"not a zip")
    with pytest.raises(MorphableError):
        MorphableModel.load(p)


def _neutral_people(model: MorphableModel, n: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.normal(size=(n, model.n_identity)) * model.identity_sd
    v = model.vertices(a).astype(np.float64)
    return v + rng.normal(scale=model.noise_sd, size=v.shape)


def test_leakage_measure_fails_a_model_whose_expression_basis_holds_an_identity_direction():
    from facelens.core.face.morphable.leakage import leakage, still_coefficients

    truth = _truth()
    rng = np.random.default_rng(5)
    neutral = _neutral_people(truth, 80, rng)
    frames = _corpus(truth, rng).videos  # expressive frames of 6 people
    ref_frames = np.concatenate(frames)
    readout = _orthonormal(np.random.default_rng(9), 5).T  # 5 "measures": fixed linear read-outs of the shape

    def score(model: MorphableModel) -> float:
        ref = np.concatenate([fit_session(v, np.ones(len(v), bool), model=model).expression for v in frames])
        return leakage(still_coefficients(model, neutral), ref, neutral.reshape(len(neutral), -1) @ readout,
                       ref_frames.reshape(len(ref_frames), -1) @ readout).ratio

    # two identity directions moved into the expression basis (in place of two expression ones)
    leaky = MorphableModel(mean=truth.mean, identity_basis=truth.identity_basis[2:],
                           expression_basis=np.concatenate([truth.identity_basis[:2], truth.expression_basis[2:]]),
                           identity_sd=truth.identity_sd[2:],
                           expression_sd=np.concatenate([truth.identity_sd[:2], truth.expression_sd[2:]]),
                           noise_sd=truth.noise_sd)
    good, bad = score(truth), score(leaky)
    assert good < 0.1 and bad > 0.5
    assert bad > 10 * good


def test_heldout_leakage_never_builds_on_the_people_it_scores():
    from facelens.core.face.morphable.leakage import heldout_still_coefficients, person_folds

    truth = _truth()
    data = _corpus(truth, np.random.default_rng(6))
    seen: list[np.ndarray] = []

    def build(d: BuildData) -> MorphableModel:
        seen.append(d.neutral_stills.reshape(len(d.neutral_stills), -1))
        return build_model(d, k_id=3, k_exp=4)

    people = np.arange(0, 60, 2)
    coef, _ = heldout_still_coefficients(data, people, folds=3, build=build)
    assert coef.shape == (30, 4) and np.isfinite(coef).all()
    fold = person_folds(len(people), 3)
    for f, used in enumerate(seen):
        for i in people[fold == f]:
            assert not np.any(np.all(used == data.neutral_stills[i].reshape(-1), axis=1))
        assert len(used) == 60 - np.sum(fold == f)

