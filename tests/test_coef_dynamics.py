"""Expression-coefficient dynamics as subject features (per label: mean, SD, MSSD of the leading
components), and a cohort model trained on them next to the valence/arousal dynamics."""
from __future__ import annotations

import csv
import math

import h5py
import numpy as np
import pytest

from facelens.cli import main
from facelens.core.annotation.segments import Segment
from facelens.core.diagnosis.feature_names import plain_name
from facelens.core.diagnosis.features import (
    COEF_COMPONENTS,
    COEF_FEATURE_NAMES,
    FEATURE_NAMES,
    FEATURE_SETS,
    SessionSeries,
    subject_features,
)
from facelens.core.diagnosis.model import load_model
from facelens.core.diagnosis.simulate import simulate_cohort


def _session(coef: np.ndarray | None):
    n = 120  # 60 happy frames, then 60 sad, 10 fps, 1-s pause between
    t = np.concatenate([np.arange(60) / 10, 7.0 + np.arange(60) / 10])
    v = np.concatenate([np.full(60, 0.4), np.full(60, -0.3)])
    segs = [Segment(0.0, 6.0, "happy"), Segment(7.0, 13.0, "sad")]
    return SessionSeries(t, v, v / 2, np.ones(n, bool), segs, coef=coef)


def test_coefficient_features_are_mean_sd_and_mssd_of_the_label_frames():
    rng = np.random.default_rng(0)
    coef = rng.normal(size=(120, 12))
    coef[5, 0] = np.nan  # a frame without a fit is left out
    f = subject_features([_session(coef)]).values
    happy = coef[:60, 0][np.isfinite(coef[:60, 0])]
    assert f["happy_c1_mean"] == pytest.approx(happy.mean())
    assert f["happy_c1_sd"] == pytest.approx(happy.std(ddof=1))
    d = np.diff(coef[:60, 0])  # pairs across the missing frame do not count
    assert f["happy_c1_mssd"] == pytest.approx(np.nanmean(d ** 2))
    assert f["sad_c3_mean"] == pytest.approx(coef[60:, 2].mean())
    assert all(math.isnan(f[n]) for n in COEF_FEATURE_NAMES if n.startswith("neutral_"))  # no neutral segment
    assert len(COEF_FEATURE_NAMES) == 3 * COEF_COMPONENTS * 3


def test_without_a_morphable_fit_the_coefficient_features_are_missing_not_zero():
    f = subject_features([_session(None)]).values
    assert all(math.isnan(f[n]) for n in COEF_FEATURE_NAMES)
    assert f["happy_v_mean"] == pytest.approx(0.4)


def test_coefficient_features_have_plain_names():
    for n in COEF_FEATURE_NAMES:
        words, unit = plain_name(n)
        assert words != n and unit.startswith("cm"), n
    assert "jaw/mouth opening" in plain_name("sad_c2_mssd")[0]


def _add_coefficients(manifest, shift: float) -> None:
    """Give every simulated results file coef_exp columns whose first component's mean in happy
    segments depends on the diagnosis (BD: +shift)."""
    rows = list(csv.DictReader(manifest.read_text().splitlines()))
    rng = np.random.default_rng(3)
    for r in rows:
        path = manifest.parent / r["results"]
        with h5py.File(path, "r+") as f:
            n = f["frames"]["time_s"].shape[0]
            c = rng.normal(scale=0.1, size=(n, 12)).astype(np.float32)
            c[:, 0] += shift if r["diagnosis"] == "BD" else 0.0
            if "coef_exp" in f["frames"]:
                del f["frames"]["coef_exp"]
            f["frames"].create_dataset("coef_exp", data=c, maxshape=(None, 12))


def test_cohort_train_with_coefficient_features(tmp_path, capsys):
    manifest = simulate_cohort(tmp_path / "sim", n_bd=12, n_mdd=12, seed=2, effect=0.0)  # VA carries nothing
    out = tmp_path / "m"
    assert main(["cohort", "train", str(manifest), "--out", str(out), "--features", "va+coef"]) == 2
    assert "no results file of this cohort has expression coefficients" in capsys.readouterr().err
    _add_coefficients(manifest, shift=1.0)
    assert main(["cohort", "train", str(manifest), "--out", str(out), "--features", "va+coef"]) == 0
    card = load_model(out).card
    assert card["features"] == list(FEATURE_SETS["va+coef"]) and "--features va+coef" in card["reproduce"]
    assert card["cv"]["metrics"]["AUC"]["mean"] > 0.9  # only the coefficients separate the groups
    capsys.readouterr()
    assert main(["cohort", "evaluate", str(out), str(manifest), "--json"]) == 0  # same columns at evaluation
    assert main(["cohort", "train", str(manifest), "--out", str(tmp_path / "va")]) == 0
    assert load_model(tmp_path / "va").card["features"] == list(FEATURE_NAMES)


@pytest.mark.parametrize("recon, used", [("fit", True), ("asmv2l", False)])
def test_only_the_morphable_fit_gives_coefficient_features(tmp_path, recon, used):
    from facelens.core.results import ResultsWriter, SessionResults

    n = 80
    cols = {"time_s": np.arange(n) / 10, "frame_index": np.arange(n), "quality": np.zeros(n, np.uint8),
            "valence": np.full(n, 0.2), "arousal": np.full(n, 0.1),
            "coef_exp": np.random.default_rng(1).normal(size=(n, 12)), "coef_id": np.zeros((n, 4)),
            "fit_residual": np.full(n, 0.01)}
    w = ResultsWriter(tmp_path / "r.h5", {"reconstruction": recon}, expression_names=["e"], emotion_labels=["x"],
                      coef_sizes=(12, 4))
    w.append(cols)
    w.finish()
    with SessionResults.open(tmp_path / "r.h5") as r:
        ses = SessionSeries.from_results(r, [Segment(0.0, 8.0, "happy")])
    f = subject_features([ses]).values
    assert math.isfinite(f["happy_c1_mean"]) is used
