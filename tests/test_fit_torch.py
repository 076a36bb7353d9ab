"""The torch implementations of the morphable fit and of G (what an analysis on a GPU runs) give the
numpy implementations' values up to rounding, on the CPU here and on CUDA where there is one."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from facelens.core.affect.g_runtime import GRunner, load_default_g  # noqa: E402
from facelens.core.affect.g_session import g_session, in_memory, make_runner  # noqa: E402
from facelens.core.common.devices import array_backend_device  # noqa: E402
from facelens.core.face.morphable import SessionFitter, load_default, make_fitter  # noqa: E402

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
TOL = 1e-9  # float64 on both sides: only the order of the sums differs


def _meshes(n: int = 50, seed: int = 5):
    """Model meshes of one person with moving expressions, a few frames unusable (NaN)."""
    model = load_default()
    rng = np.random.default_rng(seed)
    ident = rng.normal(size=model.n_identity) * model.identity_sd
    expr = rng.normal(size=(n, model.n_expression)) * model.expression_sd
    meshes = model.vertices(np.repeat(ident[None], n, axis=0), expr).astype(np.float64)
    meshes += rng.normal(scale=model.noise_sd, size=meshes.shape)
    usable = rng.random(n) > 0.15
    meshes[~usable] = np.nan
    return model, meshes, usable


def test_the_rule_puts_the_fit_and_g_on_the_gpu_only():
    assert array_backend_device("cpu") is None
    assert array_backend_device("auto") is None  # unresolved: the numpy default
    assert array_backend_device("cuda") == "cuda" and array_backend_device("cuda:1") == "cuda:1"
    model = load_default()
    assert type(make_fitter(model, None)) is SessionFitter
    assert type(make_runner(load_default_g(), device=None)) is GRunner


@pytest.mark.parametrize("device", DEVICES)
def test_the_torch_fitter_gives_the_numpy_fit(device):
    model, meshes, usable = _meshes()
    ref, dev = SessionFitter(model, exact=False), make_fitter(model, device)
    assert type(dev).__name__ == "TorchSessionFitter"
    for a in range(0, len(meshes), 16):  # streaming: causal identity, state across blocks
        f, g = ref.update(meshes[a:a + 16], usable[a:a + 16]), dev.update(meshes[a:a + 16], usable[a:a + 16])
        for name in ("expression", "residual", "identity_frames", "identity"):
            want, got = getattr(f, name), getattr(g, name)
            assert np.array_equal(np.isnan(want), np.isnan(got)), name
            np.testing.assert_allclose(got, want, atol=TOL, rtol=0, err_msg=name)
    # the session pass: accumulate everything, then each frame against the others' identity
    ref.reset(), dev.reset()
    terms = [(ref.accumulate(meshes[a:a + 20], usable[a:a + 20]), dev.accumulate(meshes[a:a + 20], usable[a:a + 20]))
             for a in range(0, len(meshes), 20)]
    np.testing.assert_allclose(dev.identity, ref.identity, atol=TOL, rtol=0)
    for i, a in enumerate(range(0, len(meshes), 20)):
        f = ref.refit(meshes[a:a + 20], usable[a:a + 20], terms=terms[i][0])
        g = dev.refit(meshes[a:a + 20], usable[a:a + 20], terms=terms[i][1])
        np.testing.assert_allclose(g.expression, f.expression, atol=TOL, rtol=0)
        np.testing.assert_allclose(g.identity_frames, f.identity_frames, atol=TOL, rtol=0)
        np.testing.assert_allclose(g.residual, f.residual, atol=TOL, rtol=0)
        assert np.isnan(g.expression[~usable[a:a + 20]]).all()
        assert np.isnan(dev.refit(meshes[a:a + 20], usable[a:a + 20], residual=False).residual).all()


@pytest.mark.parametrize("device", DEVICES)
def test_the_torch_runner_gives_the_numpy_g(device):
    g = load_default_g()
    assert len(g.members) > 1  # the shipped G is an ensemble: every member's state is carried
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 40, g.n_inputs))
    usable = rng.random(40) > 0.2
    x[1, 5] = np.nan  # a frame one sequence cannot use is skipped by both
    ref, dev = GRunner(g, n_seq=2), make_runner(g, n_seq=2, device=device)
    assert type(dev).__name__ == "TorchGRunner"
    outs = []
    for a, b in ((0, 1), (1, 13), (13, 40)):  # blocks of 1, 12 and 27 frames: the state carries across
        (va_r, p_r), (va_d, p_d) = ref.step(x[:, a:b], usable[a:b]), dev.step(x[:, a:b], usable[a:b])
        assert np.array_equal(np.isnan(va_r), np.isnan(va_d))
        np.testing.assert_allclose(va_d, va_r, atol=TOL, rtol=0)
        np.testing.assert_allclose(p_d, p_r, atol=TOL, rtol=0)
        outs.append(va_d)
    va = np.concatenate(outs, axis=1)
    assert np.isnan(va[:, 5]).all() and np.isnan(va[:, ~usable]).all()
    assert np.isfinite(va[:, usable & (np.arange(40) != 5)]).all()
    one_r, one_d = GRunner(g), make_runner(g, device=device)  # a single sequence: (B, .) outputs
    np.testing.assert_allclose(one_d.step(x[0], usable)[0], one_r.step(x[0], usable)[0], atol=TOL, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
def test_the_session_rule_on_the_device_gives_the_numpy_session(device):
    model, meshes, usable = _meshes(n=60, seed=7)
    g = load_default_g()
    fer = np.random.default_rng(8).dirichlet(np.ones(7), size=len(meshes))
    t = np.arange(len(meshes)) * 0.1
    t[30:] += 3.0  # a pause: G starts afresh on both
    ref = g_session(in_memory(meshes, usable, size=16), t, fer, model, g)
    dev = g_session(in_memory(meshes, usable, size=16), t, fer, model, g, device=device)
    for name in ("expression", "identity", "identity_frames", "residual", "valence_arousal", "probabilities"):
        np.testing.assert_allclose(getattr(dev, name), getattr(ref, name), atol=TOL, rtol=0, err_msg=name)
    np.testing.assert_array_equal(dev.usable, ref.usable)
    assert np.isfinite(dev.valence_arousal[usable]).all() and np.isnan(dev.valence_arousal[~usable]).all()


@pytest.mark.slow
def test_an_analysis_with_the_torch_fit_and_g_stores_the_numpy_values(media, tmp_path, monkeypatch):
    """The whole pipeline with the fit and G in torch (as on a GPU; here on the CPU, by the rule's
    hook): the stored coefficients and G's valence/arousal/emotions are the numpy run's, to the
    stored float32 precision, and the results file says where the fit ran."""
    from facelens.core.analysis.pipeline import analyze_to_file
    from facelens.core.common import devices
    from facelens.core.results import SessionResults

    video = media / "videos/liveportrait_d3.mp4"
    ref = analyze_to_file(video, tmp_path / "numpy.h5", va="g")
    monkeypatch.setattr(devices, "array_backend_device", lambda device: "cpu")
    dev = analyze_to_file(video, tmp_path / "torch.h5", va="g")
    with SessionResults.open(ref) as a, SessionResults.open(dev) as b:
        np.testing.assert_array_equal(a.quality, b.quality)
        for name in ("coef_exp", "coef_id", "fit_residual", "valence", "arousal", "emotions"):
            np.testing.assert_allclose(np.asarray(getattr(b, name)), np.asarray(getattr(a, name)), atol=2e-6,
                                       rtol=0, err_msg=name)
        np.testing.assert_allclose(b.meta["session_identity"], a.meta["session_identity"], atol=2e-6)
        card = {c["id"]: c for c in b.meta["models"]}["facelens-morphable"]
        assert card["backend"] == "torch" and card["device"] == "cpu"
        assert {c["id"]: c for c in a.meta["models"]}["facelens-morphable"]["backend"] == "numpy"
        assert {c["id"]: c for c in b.meta["models"]}["va-g"]["backend"] == "torch"
        assert np.isfinite(np.asarray(b.valence)[b.usable]).all()
