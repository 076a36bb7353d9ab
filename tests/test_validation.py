"""The validity harness (fast subset): statistics, perturbations, segment order, blinks, the runner
against `facelens analyze`, the report and the CLI's refusals of bad input."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.affect.fer import FER_LABELS
from facelens.core.validation import estimators, invariance, perturb
from facelens.core.common import agreement as metrics
from facelens.core.validation.runner import FrameData


def _names() -> list[str]:
    from facelens.core.face.geometry import EXPRESSION_NAMES

    return list(EXPRESSION_NAMES)


def test_icc_2_1_matches_shrout_fleiss_worked_example():
    # Shrout & Fleiss (1979), Table 2: 6 targets, 4 judges; ICC(2,1) = 0.29
    t = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], float)
    assert metrics.icc_2_1(t) == pytest.approx(0.29, abs=0.005)
    x = np.linspace(-1, 1, 50)
    assert metrics.icc_2_1(np.column_stack([x, x])) == pytest.approx(1.0)
    assert metrics.icc_2_1(np.column_stack([x, x + 0.5])) < 0.9  # absolute agreement: a shift counts


def test_ccc_rmse_and_confusion():
    x = np.linspace(-1, 1, 40)
    assert metrics.ccc(x, x) == pytest.approx(1.0) and metrics.ccc(x, 0.5 * x) < metrics.pearson(x, 0.5 * x)
    assert metrics.rmse(x, x + 0.1) == pytest.approx(0.1) and metrics.max_shift(x, x[::-1]) == pytest.approx(2.0)
    conf = metrics.confusion(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    acc, recall = metrics.class_accuracy(conf)
    assert conf.tolist() == [[1, 1], [0, 1]] and acc == pytest.approx(2 / 3) and recall.tolist() == [0.5, 1.0]


def test_perturbations_are_deterministic_and_do_what_they_say():
    rng = np.random.default_rng(0)
    frames = [rng.integers(60, 200, (64, 96, 3), dtype=np.uint8) for _ in range(4)]
    left = perturb.variant("light_from_left").apply(frames)
    assert left[0][:, :10].mean() > frames[0][:, :10].mean() + 20 and left[0][:, -10:].mean() < frames[0][:, -10:].mean() - 20
    assert all(np.array_equal(a, b) for a, b in zip(left, perturb.variant("light_from_left").apply(frames)))
    m = perturb.variant("mirror").apply(frames)
    assert np.array_equal(perturb.variant("mirror").apply(m)[0], frames[0])
    coded = perturb.downscale_reencode(frames)
    assert coded[0].shape == frames[0].shape and not np.array_equal(coded[0], frames[0])
    assert {v.family for v in perturb.variants()} == set(perturb.FAMILIES)
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb.variant("sepia")


def _session(first: str) -> tuple[FrameData, list[tuple[float, float, str]]]:
    """A still face: 4 s neutral and 4 s smile (lip corners, cheeks), FER2013 agreeing; ``first`` leads."""
    names = _names()
    n = 40
    rng = np.random.default_rng(1)
    expr = rng.normal(0, 0.004, (2 * n, len(names))).astype(np.float32)
    fer = np.full((2 * n, 7), 0.02, np.float32)
    smile = slice(0, n) if first == "happy" else slice(n, 2 * n)
    neutral = slice(n, 2 * n) if first == "happy" else slice(0, n)
    for k in ("lip_corner_pull_l", "lip_corner_pull_r", "cheek_raise"):
        expr[smile, names.index(k)] += 0.15
    fer[smile, FER_LABELS.index("happy")] = 0.88
    fer[neutral, FER_LABELS.index("neutral")] = 0.88
    t = np.arange(2 * n) / 10.0
    d = FrameData(t, np.zeros(2 * n, np.uint8), expr, fer, np.zeros((2 * n, 3), np.float32),
                  np.zeros((2 * n, 1, 3), np.float32))
    spans = [(0.0, 4.0, first), (4.0, 8.0, "neutral" if first == "happy" else "happy")]
    return d, spans


def test_segment_order_moves_the_shipped_baseline_but_not_the_anchored_one():
    d, spans = _session("neutral")
    shipped = invariance.order_effect(d, spans, estimators.get("circumplex"))
    anchored = invariance.order_effect(d, spans, estimators.get("circumplex-anchored"))
    # the streaming baseline is seeded by the first frame: a smile shown first becomes "neutral"
    assert max(shipped["valence"], shipped["arousal"]) > 0.05
    assert max(anchored["valence"], anchored["arousal"]) <= 0.02  # the order-effect target of docs/validity.md


def test_blinks_do_not_raise_arousal_instability():
    from facelens.core.affect.va import CircumplexVA
    from facelens.core.dynamics import series_indices

    names = _names()
    n = 200
    rng = np.random.default_rng(2)
    expr = rng.normal(0, 0.003, (n, len(names)))
    blinks = np.zeros(n, bool)
    blinks[40::25] = True  # a blink every 2.5 s on a still, neutral face
    expr[blinks, names.index("eye_closure")] += 0.9
    for k in ("upper_lid_raise_l", "upper_lid_raise_r"):
        expr[blinks, names.index(k)] -= 0.08
    t, ok = np.arange(n) / 10.0, np.ones(n, bool)
    fer = np.tile(np.eye(7, dtype=np.float32)[FER_LABELS.index("neutral")], (n, 1))
    out = {}
    for flag in (False, True):
        _, _, a = CircumplexVA(labels=FER_LABELS, exclude_blinks=flag).estimate_fused(fer, expr, names, t, ok)
        out[flag] = series_indices(a, ok, t).mssd
    assert out[True] < 0.5 * out[False]


def test_runner_gives_what_facelens_analyze_stores(media, analysed, tmp_path):
    from facelens.core.results import SessionResults
    from facelens.core.validation.runner import Analyser
    from facelens.core.validation.sampling import sample_clip

    from facelens.core.analysis.pipeline import analyze_to_file

    rel = "videos/pyfeat_single_face.mp4"
    d = Analyser().track(sample_clip(media / rel))
    circ = analyze_to_file(media / rel, tmp_path / "c.h5", va="circumplex")
    for name, path in (("g", analysed(rel)), ("circumplex", circ)):  # the default (G) and the other
        v, a, post = estimators.get(name)(d)
        with SessionResults.open(path) as res:
            assert res.meta["va_estimator"] == name
            assert np.array_equal(res.quality, d.quality)
            np.testing.assert_allclose(res.valence, v, atol=1e-5)
            np.testing.assert_allclose(res.arousal, a, atol=1e-5)
            np.testing.assert_allclose(res.emotions, post, atol=1e-5)


def test_fast_harness_writes_a_report(media, tmp_path):
    from facelens.core.validation import clips
    from facelens.core.validation.harness import HarnessConfig, run_harness
    from facelens.core.validation.report import write

    cfg = HarnessConfig(media=media, clips=clips.FAST[:1], variants=("light_from_left",), max_seconds=2.5)
    res = run_harness(cfg, log=lambda m: None)
    fam = res["estimators"]["circumplex"]["families"]["lighting"]
    assert 0.0 <= fam["seg_shift_v"] < 2.0 and np.isfinite(fam["seg_icc_v"])
    md = write(res, tmp_path)
    text = md.read_text()
    assert "Reliability under nuisance" in text and "data:image/png;base64," in text
    assert (tmp_path / "validity.json").is_file()


def test_validate_cli_refuses_bad_input_in_one_line(tmp_path, capsys):
    from facelens.cli import main

    assert main(["validate", "--media", str(tmp_path)]) == 2
    (tmp_path / "m" / "videos").mkdir(parents=True)
    assert main(["validate", "--media", str(tmp_path / "m"), "--variants", "sepia"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("facelens: error:") for e in err)


def _sim_session(group: str, seed: int = 3):
    from facelens.core.diagnosis.features import SessionSeries
    from facelens.core.diagnosis.simulate import simulate_session

    s = simulate_session(np.random.default_rng(seed), group, 1.0)
    return SessionSeries(s["time_s"], s["valence"], s["arousal"], s["quality"] == 0, s["segments"])


def test_prediction_refuses_when_nuisance_moves_it_or_the_rate_differs():
    from facelens.core.diagnosis.model import Prediction, Refusal, load_model, predict_subject

    model = load_model(None)
    s = _sim_session("BD")
    ok = predict_subject(model, [s], nuisance_probabilities=[])
    assert isinstance(ok, Prediction) and ok.calibrated is not None and ok.drivers_plain
    lo, hi, n = ok.calibrated
    assert 0.0 <= lo <= hi <= 1.0 and n > 0
    assert all("log-odds" in d and "_" not in d.split(":")[0] for d in ok.drivers_plain)  # no raw names
    p = ok.probability_bd
    shaky = predict_subject(model, [s], nuisance_probabilities=[p, min(1.0, p + 0.2) if p < 0.8 else p - 0.2])
    assert isinstance(shaky, Refusal) and any("unstable" in r for r in shaky.reasons)
    steady = predict_subject(model, [s], nuisance_probabilities=[p + 0.05 if p < 0.9 else p - 0.05])
    assert isinstance(steady, Prediction)
    faster = type(s)(s.time_s * (10.0 / 24.0), s.valence, s.arousal, s.usable,
                     [type(g)(g.start_s * 10 / 24, g.end_s * 10 / 24, g.label) for g in s.segments])
    r = predict_subject(model, [faster])  # the same 150 frames per label at 24 frames/s: 6.25 s each
    assert isinstance(r, Refusal) and any("sampled at 24.0 frames/s" in x for x in r.reasons)


def test_baseline_summary_names_its_source_and_flags_a_sad_looking_neutral_segment(analysed):
    from facelens.core.annotation.segments import Segment
    from facelens.core.dynamics.baseline import baseline_summary
    from facelens.core.results import SessionResults

    with SessionResults.open(analysed("videos/pyfeat_WolfgangLanger_Pexels.mp4")) as res:
        # the crying part called "neutral": its valence sits far below the baseline's 0
        out = baseline_summary(res, [Segment(0.0, 9.0, "neutral"), Segment(10.0, 19.5, "happy")])
        robust = baseline_summary(res, [Segment(10.0, 19.5, "happy")])
    assert out.source == "annotated neutral segments" and out.n_frames >= 20
    assert len(out.flags) == 1 and "0.0–9.0 s" in out.flags[0] and "Neutral baseline" in out.text()
    assert robust.source.startswith("robust estimate") and robust.flags == []


def test_within_span_correlation_separates_arousal_that_moves_on_its_own_from_the_spans_content():
    from facelens.core.validation.reliability import Series, abs_corr_va, within_span_abs_corr_va

    rng = np.random.default_rng(3)
    t = np.arange(200) / 10.0
    level = np.where(t < 10, -1.0, 1.0)  # a sad span, then a happy one: both move together between them
    v = 0.5 * level + 0.1 * rng.normal(size=t.size)
    independent = Series(t, v, 0.3 * level + 0.1 * rng.normal(size=t.size))
    spans = [(0.0, 10.0), (10.0, 20.0)]
    assert abs_corr_va(independent) > 0.8 > 0.3 > within_span_abs_corr_va(independent, spans)
    following = Series(t, v, 0.3 * level + 0.8 * (v - 0.5 * level))  # arousal copies valence's wobble
    assert within_span_abs_corr_va(following, spans) > 0.95
    assert np.isnan(within_span_abs_corr_va(independent, [(30.0, 40.0)]))  # no frames inside


def test_common_frame_shift_separates_the_quality_gates_from_the_estimator():
    from facelens.core.validation.reliability import Series, compare_variant, family_summary, usable_in_both

    t = np.arange(40) / 10.0
    v = np.where(t < 1.0, 0.8, 0.0)  # 1 s expressive, then rest
    base = Series(t, v.copy(), v.copy())
    spans = [(0.0, 2.0, "window"), (2.0, 4.0, "window")]
    # the variant reads every frame as the original does, but its gate drops the rest frames of the
    # first window: that window's mean moves from 0.4 to 0.8, its common frames do not move
    gate = np.where((t >= 1.0) & (t < 2.0), np.nan, v)
    r = compare_variant("gate", "g", [("clip", base, Series(t, gate, gate), spans)])
    assert np.allclose(r.segments.max_shift, 0.4) and max(r.common.max_shift) < 1e-12
    assert r.flipped_frames == 10
    # an estimator that reads the same frames differently moves both figures
    r2 = compare_variant("est", "e", [("clip", base, Series(t, v + 0.2, v + 0.2), spans)])
    assert np.allclose(r2.segments.max_shift, 0.2) and np.allclose(r2.common.max_shift, 0.2)
    assert r2.flipped_frames == 0
    fam = family_summary([r, r2])
    assert fam["g"]["common_shift_v"] < 1e-12 and fam["g"]["flipped_frames"] == 10
    assert np.isclose(fam["e"]["common_shift_a"], 0.2) and np.isclose(fam["g"]["seg_shift_a"], 0.4)
    b, o, flips = usable_in_both(base, Series(t + 0.05, v, v))  # half a step late (a sampling variant)
    assert flips == 0 and np.isfinite(o.valence).all() and np.isfinite(b.valence).sum() >= 39


def test_no_icc_from_a_handful_of_pairs():
    from facelens.core.validation.reliability import MIN_ICC_PAIRS, agreement

    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.3, (MIN_ICC_PAIRS, 2))
    few = agreement(x[:4], -x[:4])  # e.g. a 3-px blur whose gates keep 4 frames
    assert few.n == 4 and np.isnan(few.icc).all() and np.isfinite(few.max_shift).all()
    enough = agreement(x, x + 0.01)
    assert enough.n == MIN_ICC_PAIRS and min(enough.icc) > 0.99


def test_gates_applied_again_reproduce_the_tracker_and_move_with_their_constants(media):
    from facelens.core.common.types import Quality
    from facelens.core.validation.gates import regate
    from facelens.core.validation.runner import Analyser
    from facelens.core.validation.sampling import sample_clip
    from facelens.core.validation.sensitivity import pipeline_sensitivity

    # the Wolfgang clip: a hand over mouth and nose from about 2 s (the occlusion test flags it)
    clip = sample_clip(media / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4", 10.0, 0.0, 4.0)
    d = Analyser(None).track(clip)
    assert (d.quality == int(Quality.LOW_CONFIDENCE)).sum() >= 3
    same = regate(d)
    np.testing.assert_array_equal(same.quality, d.quality)
    np.testing.assert_array_equal(np.isnan(same.fer), np.isnan(d.fer))  # the stored posterior, where usable
    lenient = regate(d, min_confidence=0.0)  # no frame below confidence 0: the occluded frames come back
    assert not (lenient.quality == int(Quality.LOW_CONFIDENCE)).any()
    assert lenient.usable.sum() > d.usable.sum() and np.isfinite(lenient.fer[lenient.usable]).all()
    strict = regate(d, min_confidence=1.01)
    assert not strict.usable.any() and np.isnan(strict.fer).all()
    with pytest.raises(ValueError, match="gates' inputs"):
        regate(FrameData(d.time_s, d.quality, d.expressions, d.fer, d.euler, d.landmarks))

    class Run:  # what the sensitivity analysis reads of a harness run
        base = d

        @staticmethod
        def spans():
            return [(0.0, 2.0, "neutral"), (2.0, 4.0, "sad")]

    rows = {r["name"]: r for r in pipeline_sensitivity([Run()], "circumplex")}
    gate = rows["tracking.min_confidence (= disagreement_at_half at +50 / -50 %)"]
    assert gate["value"] == 0.5 and all(np.isfinite(x) and x >= 0 for x in gate["shift"])
    assert "g_session.GAP_S" in rows and "tracking.blur_threshold" in rows
