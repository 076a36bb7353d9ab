"""BD-vs-MDD prediction: probability with interval and drivers, refusals, a real recording."""
from __future__ import annotations

import json

import numpy as np
import pytest

from facelens.cli import main
from facelens.core.annotation.segments import Segment, write_segments_csv
from facelens.core.diagnosis.features import MIN_VALID_FRAMES, SessionSeries
from facelens.core.diagnosis.model import (
    Prediction,
    Refusal,
    load_model,
    predict_subject,
    reference_model_dir,
)
from facelens.core.diagnosis.simulate import simulate_session


@pytest.fixture(scope="module")
def model():
    return load_model()  # the shipped reference


def _sim(group: str, seed: int = 3) -> SessionSeries:
    s = simulate_session(np.random.default_rng(seed), group, 1.0)
    return SessionSeries(s["time_s"], s["valence"], s["arousal"], s["quality"] == 0, s["segments"])


def test_prediction_has_interval_drivers_and_card(model):
    out = predict_subject(model, [_sim("BD")])
    assert isinstance(out, Prediction)
    assert 0.0 <= out.interval[0] <= out.interval[1] <= 1.0 and len(out.fold_probabilities) == 5
    assert out.simulated and out.card["simulated"] is True and out.model_id == "bd_mdd_reference"
    assert len(out.drivers) == 5
    mags = [abs(d.contribution) for d in out.drivers]
    assert mags == sorted(mags, reverse=True)
    # Logistic regression: the log-odds is the sum of all contributions plus the intercept.
    x = np.array([out.n_valid_frames["happy"]])  # (only to show the counts are there)
    assert x[0] >= MIN_VALID_FRAMES
    from facelens.core.diagnosis.features import subject_features

    contrib = model.contributions(subject_features([_sim("BD")]).vector(model.feature_names))
    logit = float(np.log(out.probability_bd / (1 - out.probability_bd)))
    assert logit == pytest.approx(contrib.sum() + model.final["intercept"])


def test_simulated_groups_get_different_probabilities(model):
    outs = {g: [predict_subject(model, [_sim(g, s)]) for s in range(10, 20)] for g in ("BD", "MDD")}
    # subjects drawn like the training cohort are (almost all) supported: seed 13 lies outside it
    assert all(sum(isinstance(o, Refusal) for o in v) <= 1 for v in outs.values())
    p_bd, p_mdd = ([o.probability_bd for o in outs[g] if isinstance(o, Prediction)] for g in ("BD", "MDD"))
    assert np.mean(p_bd) > np.mean(p_mdd) + 0.3


def test_refuses_without_sad_segment_or_with_too_few_valid_frames(model):
    s = _sim("MDD")
    no_sad = SessionSeries(s.time_s, s.valence, s.arousal, s.usable, [g for g in s.segments if g.label != "sad"])
    r = predict_subject(model, [no_sad])
    assert isinstance(r, Refusal) and r.missing == ["sad"] and "no 'sad' segment" in r.reason
    sad = next(g for g in s.segments if g.label == "sad")
    usable = s.usable & ~((s.time_s >= sad.start_s + 3.0) & (s.time_s < sad.end_s))  # only 3 s left
    r2 = predict_subject(model, [SessionSeries(s.time_s, s.valence, s.arousal, usable, s.segments)])
    assert isinstance(r2, Refusal) and "need 5 s" in r2.reason and "3.0 s" in r2.reason
    assert isinstance(predict_subject(model, []), Refusal)


def test_missing_neutral_is_imputed_and_said(model):
    s = _sim("BD")
    no_neutral = SessionSeries(s.time_s, s.valence, s.arousal, s.usable, [g for g in s.segments if g.label != "neutral"])
    out = predict_subject(model, [no_neutral])
    assert isinstance(out, Prediction)
    assert out.missing_labels == ["neutral"] and "neutral_v_mean" in out.imputed_features
    assert "has_neutral" not in out.imputed_features  # the flag itself is a value (0), not imputed


def test_gboost_model_predicts_too(tmp_path):
    from facelens.core.diagnosis.simulate import simulate_cohort

    manifest = simulate_cohort(tmp_path / "sim", n_bd=12, n_mdd=12, seed=2)
    assert main(["cohort", "train", str(manifest), "--out", str(tmp_path / "gb"), "--classifier", "gboost"]) == 0
    out = predict_subject(load_model(tmp_path / "gb"), [_sim("BD")])
    assert isinstance(out, Prediction) and out.card["classifier"] == "gboost"
    assert len(out.drivers) == 5


def test_bad_model_file_is_one_line(tmp_path, capsys):
    (tmp_path / "model.json").write_text("{not json")
    assert main(["cohort", "predict", str(tmp_path), "x.h5", "--segments", "x.csv"]) == 2
    err = capsys.readouterr().err.strip()
    assert "corrupt model file" in err and "\n" not in err


def test_real_recording_is_refused_by_the_simulated_reference_model(analysed, tmp_path, capsys):
    from facelens.core.results import SessionResults

    h5 = analysed("videos/pyfeat_WolfgangLanger_Pexels.mp4")
    segs = [Segment(0.0, 9.0, "sad"), Segment(10.0, 19.5, "happy")]
    csv = write_segments_csv(segs, tmp_path / "segments.csv")
    with SessionResults.open(h5) as res:
        out = predict_subject(load_model(reference_model_dir()), [(res, segs)])
    # The simulated model's training sessions look nothing like a real face's VA series (the
    # Wolfgang clip got P(BD) 0.998 as is and 0.045 with a side light before the guard): refused.
    # (the sad part is mostly hand-over-face: ~4-5 s of usable frames, so the reason may be either)
    assert isinstance(out, Refusal) and out.simulated
    assert ("training cohort" in out.reason and "simulated" in out.reason) or "need 5 s" in out.reason
    code = main(["cohort", "predict", str(h5), "--segments", str(csv), "--json"])
    printed = json.loads(capsys.readouterr().out)
    assert code == 3 and printed["refused"] is True and printed["reasons"] == out.reasons


def test_subject_far_outside_training_cohort_is_flagged(model):
    s = _sim("BD")
    in_sad = np.zeros(len(s.time_s), bool)
    for g in s.segments:
        if g.label == "sad":
            in_sad |= (s.time_s >= g.start_s) & (s.time_s < g.end_s)
    shifted = SessionSeries(s.time_s, np.where(in_sad, s.valence + 0.8, s.valence), s.arousal, s.usable, s.segments)
    out = predict_subject(model, [shifted])
    assert isinstance(out, Refusal) and "average valence (pleasantness) in the sad segments" in out.reason
    assert "simulated" in out.reason and out.simulated
    ok = predict_subject(model, [s])
    assert isinstance(ok, Prediction) and ok.out_of_range == []
