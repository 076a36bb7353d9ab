"""Valence/arousal estimators and the affect stage's contract (NaN rows, streaming state)."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.affect.fer import FER_LABELS
from facelens.core.affect.va import (
    WARRINER_NORMS,
    CircumplexVA,
    ValenceArousalEstimator,
    circumplex_coordinates,
)

NAMES = ["lip_corner_pull_l", "lip_corner_pull_r", "cheek_raise", "brow_lower", "lip_corner_depress",
         "upper_lid_raise", "mouth_open", "jaw_drop"]


def _onehot(label: str, n: int) -> np.ndarray:
    p = np.zeros((n, 7), np.float32)
    p[:, FER_LABELS.index(label)] = 1.0
    return p


def test_circumplex_coordinates():
    c = circumplex_coordinates(FER_LABELS)
    assert c.shape == (7, 2) and np.all(np.abs(c) <= 1)
    lab = dict(zip(FER_LABELS, c))
    assert lab["happy"][0] > 0.5 and lab["sad"][0] < -0.5 and lab["angry"][1] > 0.2 and lab["sad"][1] < 0
    assert np.allclose(lab["neutral"], 0) and set(WARRINER_NORMS) == set(FER_LABELS)
    # the values as read from Ratings_Warriner_et_al.csv (V.Mean.Sum, A.Mean.Sum), see va.py
    assert WARRINER_NORMS["happy"] == (8.47, 6.05) and WARRINER_NORMS["fear"] == (2.25, 5.12)
    assert lab["surprise"][0] == pytest.approx((6.57 - 5) / 4)


def test_emotion_posterior_moves_valence():
    va = CircumplexVA()
    assert isinstance(va, ValenceArousalEstimator)
    t = np.arange(20) / 10
    ok = np.ones(20, bool)
    expr = np.zeros((20, len(NAMES)))
    v_happy, _ = va.estimate(_onehot("happy", 20), expr, NAMES, t, ok)
    va.reset()
    v_sad, a_sad = va.estimate(_onehot("sad", 20), expr, NAMES, t, ok)
    assert v_happy[-1] > 0.4 and v_sad[-1] < -0.4
    assert np.all(np.abs(v_sad) <= 1) and np.all(np.abs(a_sad) <= 1)


def test_geometric_cues_without_emotions():
    va = CircumplexVA()
    n = 60
    t = np.arange(n) / 10
    expr = np.random.default_rng(0).normal(0, 0.01, size=(n, len(NAMES)))
    # smile from frame 30 (lip corners pulled, cheeks raised); geometric cues are relative to a running
    # per-person baseline, so a held expression fades as it becomes the baseline: test the onset
    expr[30:, 0:3] += 0.2
    v, _ = va.estimate(None, expr, NAMES, t, np.ones(n, bool))
    assert v[31:38].mean() > v[:30].mean() + 0.25
    va.reset()
    expr2 = np.random.default_rng(1).normal(0, 0.01, size=(n, len(NAMES)))
    expr2[30:, 3] += 0.2  # frown: brows lowered
    v2, _ = va.estimate(None, expr2, NAMES, t, np.ones(n, bool))
    assert v2[31:38].mean() < v2[:30].mean() - 0.25
    va.reset()
    expr3 = np.random.default_rng(2).normal(0, 0.01, size=(n, len(NAMES)))
    expr3[30:, 6:8] += 0.3  # mouth and jaw open: arousal up
    _, a3 = va.estimate(None, expr3, NAMES, t, np.ones(n, bool))
    assert a3[31:38].mean() > a3[:30].mean() + 0.2


def test_nan_for_unusable_and_streaming_equals_one_batch():
    rng = np.random.default_rng(5)
    n = 50
    t = np.arange(n) / 10
    p = rng.dirichlet(np.ones(7), size=n).astype(np.float32)
    expr = rng.normal(size=(n, len(NAMES)))
    ok = rng.random(n) > 0.2
    p[~ok] = np.nan
    whole = CircumplexVA().estimate(p, expr, NAMES, t, ok)
    va = CircumplexVA()
    parts = [va.estimate(p[i:i + 7], expr[i:i + 7], NAMES, t[i:i + 7], ok[i:i + 7]) for i in range(0, n, 7)]
    for k in range(2):
        streamed = np.concatenate([q[k] for q in parts])
        np.testing.assert_array_equal(np.isnan(whole[k]), ~ok)
        np.testing.assert_allclose(streamed, whole[k], equal_nan=True)


def test_smoothing_does_not_bridge_a_missing_face():
    va = CircumplexVA(emotion_weight=1.0, tau_s=10.0)  # very slow smoothing
    t = np.arange(6) / 10
    p = np.concatenate([_onehot("sad", 3), _onehot("happy", 3)])
    ok = np.array([1, 1, 0, 1, 1, 1], bool)
    v, _ = va.estimate(p, np.zeros((6, 0)), [], t, ok)
    assert np.isnan(v[2])
    assert v[3] == pytest.approx(circumplex_coordinates(["happy"])[0, 0])  # restarted, not dragged down


def test_stage_contract_with_fer(tmp_path):
    from facelens.core.affect.stage import AffectStage
    from facelens.core.registry import registry
    from facelens.core.common.types import FaceObservation, Quality

    registry.fetch("fer2013-mini-xception", log=lambda s: None)
    stage = AffectStage.default(device="cpu", prefer_user_models=False, va="circumplex")
    assert stage.emotion_labels == list(FER_LABELS)
    ids = [c["id"] for c in stage.model_cards()]
    assert ids[0] == "fer2013-mini-xception" and "valence-arousal" in ids
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8) for _ in range(4)]
    box = np.array([20, 10, 90, 80], np.float32)
    obs = [FaceObservation(Quality.OK, bbox=box), FaceObservation(Quality.MOTION_BLUR, bbox=box),
           FaceObservation(Quality.MULTIPLE_FACES, bbox=box), FaceObservation(Quality.NO_FACE)]
    out = stage.process(frames, obs, np.zeros((4, 3)), np.arange(4) / 10, include_fer=True)
    assert out["emotions"].shape == (4, 7) and out["emotions"].dtype == np.float32
    # first frames of a session: no baseline yet, so the fused posterior is the FER2013 posterior (up to
    # the fusion's floor of 1e-4 on each probability before its logarithm)
    np.testing.assert_allclose(out["emotions"][0], out["emotions_fer"][0], atol=1.2e-4)
    assert set(stage.process(frames, obs, np.zeros((4, 3)), np.arange(4, 8) / 10)) == {"emotions", "valence", "arousal"}
    assert np.isfinite(out["emotions"][[0, 2]]).all() and np.isnan(out["emotions"][[1, 3]]).all()
    assert np.isnan(out["valence"][[1, 3]]).all() and np.isfinite(out["valence"][[0, 2]]).all()
    assert np.all(np.abs(out["arousal"][[0, 2]]) <= 1)
    empty = stage.process([], [], np.zeros((0, 3)), np.zeros(0))
    assert empty["emotions"].shape == (0, 7)
    with pytest.raises(ValueError, match="batch sizes differ"):
        stage.process(frames[:2], obs, np.zeros((4, 3)), np.arange(4) / 10)


def _held_expression(n_neutral: int, n_held: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """SIMULATED measures: a still neutral face (jitter 0.005), then a smile held ``n_held`` frames."""
    rng = np.random.default_rng(seed)
    n = n_neutral + n_held
    expr = rng.normal(0, 0.005, size=(n, len(NAMES)))
    expr[n_neutral:, 0:3] += 0.15  # lip corners up and out, cheeks raised (about a broad smile)
    return expr, np.arange(n) / 10


@pytest.mark.parametrize("with_posterior", [False, True])
def test_held_smile_does_not_fade(with_posterior):
    # 5 s neutral, then a smile held for 15 s (the paper's clip length) at 10 fps
    expr, t = _held_expression(50, 150)
    ok = np.ones(len(t), bool)
    post = None
    if with_posterior:  # an appearance model that calls the smile happy (and the rest neutral)
        post = np.concatenate([_onehot("neutral", 50), _onehot("happy", 150)]) * 0.9 + 0.1 / 7
    v, _ = CircumplexVA().estimate(post, expr, NAMES, t, ok)
    held = v[55:]
    assert held.min() > 0.25, f"valence fell to {held.min():.2f} during the held smile"
    assert held[-10:].mean() > held[:10].mean() - 0.1  # no fading over 15 s
    assert abs(np.mean(v[20:50])) < 0.1 or with_posterior  # neutral stays near 0 without a posterior


def test_fused_posterior_and_exact_replay():
    rng = np.random.default_rng(7)
    n = 120
    t = np.arange(n) / 10
    expr = rng.normal(0, 0.005, size=(n, len(NAMES)))
    expr[60:, 0:3] += 0.15  # smile from 6 s
    fer = np.tile(np.array([0.05, 0.05, 0.05, 0.1, 0.05, 0.05, 0.65], np.float32), (n, 1))  # FER misses it
    ok = rng.random(n) > 0.1
    fer[~ok] = np.nan
    fused, v, a = CircumplexVA().estimate_fused(fer, expr, NAMES, t, ok)
    assert fused.dtype == np.float32 and np.isnan(fused[~ok]).all()
    np.testing.assert_allclose(fused[ok].sum(axis=1), 1, atol=1e-5)
    top = np.argmax(np.nan_to_num(fused), axis=1)
    late = ok & (t >= 7)
    assert np.mean(top[late] == FER_LABELS.index("happy")) > 0.9  # geometry corrects the appearance model
    assert np.mean(top[ok & (t >= 2) & (t < 6)] == FER_LABELS.index("neutral")) > 0.9
    # --resume: replaying the stored (fused) posterior rebuilds the state exactly
    est = CircumplexVA()
    est.estimate(fused[:80], expr[:80], NAMES, t[:80], ok[:80])
    f2, v2, a2 = est.estimate_fused(fer[80:], expr[80:], NAMES, t[80:], ok[80:])
    np.testing.assert_array_equal(f2, fused[80:])
    np.testing.assert_array_equal(v2, v[80:])
    np.testing.assert_array_equal(a2, a[80:])
