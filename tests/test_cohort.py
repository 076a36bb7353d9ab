"""Subject features, cohort training with subject-level CV, the simulated reference model."""
from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
import pytest

from facelens.cli import main
from facelens.core.annotation.segments import Segment
from facelens.core.diagnosis.cohort import Cohort, cross_validate, load_cohort, make_estimator, train_model
from facelens.core.diagnosis.features import (
    COEF_FEATURE_NAMES,
    CONTRAST_NAMES,
    FEATURE_NAMES,
    MIN_VALID_FRAMES,
    SessionSeries,
    subject_features,
)
from facelens.core.diagnosis.model import PortableModel, export_estimator, load_model, reference_model_dir
from facelens.core.diagnosis.simulate import simulate_cohort, simulate_session


def _series(values_by_label: dict[str, np.ndarray], usable_by_label: dict[str, np.ndarray] | None = None):
    """Concatenate per-label valence series (arousal = valence / 2) into one session at 10 fps."""
    t, v, u, segs, start = [], [], [], [], 0.0
    for lab, x in values_by_label.items():
        n = len(x)
        t.append(start + np.arange(n) / 10.0)
        v.append(np.asarray(x, float))
        u.append(np.ones(n, bool) if not usable_by_label or lab not in usable_by_label else usable_by_label[lab])
        segs.append(Segment(start, start + n / 10.0, lab))
        start += n / 10.0 + 1.0
    vv = np.concatenate(v)
    return SessionSeries(np.concatenate(t), vv, vv / 2, np.concatenate(u), segs)


def test_features_on_hand_computed_example():
    alt = np.tile([0.2, 0.4], 30)  # 60 frames: mean 0.3, successive differences ±0.2
    s = _series({"happy": alt, "sad": np.full(60, -0.5), "neutral": np.linspace(0, 0.59, 60)})
    f = subject_features([s]).values
    assert f["happy_v_mean"] == pytest.approx(0.3) and f["happy_a_mean"] == pytest.approx(0.15)
    assert f["happy_v_mssd"] == pytest.approx(0.04) and f["happy_a_mssd"] == pytest.approx(0.01)
    assert f["happy_v_inertia"] == pytest.approx(-1.0)
    assert f["sad_v_sd"] == pytest.approx(0.0) and f["neutral_v_mssd"] == pytest.approx(0.0001)
    assert f["valence_contrast"] == pytest.approx(0.8) and f["arousal_contrast"] == pytest.approx(0.4)
    assert f["has_happy"] == f["has_sad"] == f["has_neutral"] == 1.0
    assert list(f) and set(f) == set(FEATURE_NAMES) | set(CONTRAST_NAMES) | set(COEF_FEATURE_NAMES)
    assert all(math.isnan(f[n]) for n in COEF_FEATURE_NAMES)  # this session has no morphable fit
    # within-person contrasts against the neutral segments (mean of linspace(0, 0.59, 60) = 0.295)
    assert f["happy_v_minus_neutral"] == pytest.approx(0.005) and f["sad_v_minus_neutral"] == pytest.approx(-0.795)


def test_sessions_are_pooled_per_label():
    a = _series({"happy": np.full(30, 0.2), "sad": np.full(60, -0.2)})
    b = _series({"happy": np.full(30, 0.6)})
    f = subject_features([a, b])
    assert f.n_valid["happy"] == 60 and f.values["happy_v_mean"] == pytest.approx(0.4)
    assert f.values["happy_v_mssd"] == pytest.approx(0.0)  # no difference between the two sessions
    assert f.n_sessions == 2


def test_missing_label_is_flagged_and_nan_never_zero():
    s = _series({"happy": np.full(60, 0.3), "neutral": np.full(60, 0.0)})
    f = subject_features([s])
    assert f.values["has_sad"] == 0.0 and f.missing_labels == ["sad"]
    assert all(math.isnan(f.values[k]) for k in FEATURE_NAMES if k.startswith("sad_"))
    assert math.isnan(f.values["valence_contrast"])
    # Too few valid frames counts as missing too.
    usable = np.arange(60) < MIN_VALID_FRAMES - 1
    g = subject_features([_series({"happy": np.full(60, 0.3), "sad": np.full(60, -0.3)}, {"sad": usable})])
    assert g.n_valid["sad"] == MIN_VALID_FRAMES - 1 and g.values["has_sad"] == 0.0
    # The model fills NaN with training means, never zero.
    model = PortableModel("logreg", list(FEATURE_NAMES),
                          {"impute": list(range(1, len(FEATURE_NAMES) + 1)), "mean": [0.0] * len(FEATURE_NAMES),
                           "scale": [1.0] * len(FEATURE_NAMES), "coef": [0.0] * len(FEATURE_NAMES), "intercept": 0.0},
                          [], {})
    x = model.impute(f.vector())[0]
    j = FEATURE_NAMES.index("sad_v_mean")
    assert x[j] == j + 1


def _cohort_with_sessions(n_subjects: int, sessions_each: int, effect: float, seed: int = 0) -> Cohort:
    """A cohort with several *rows* per subject (as if sessions were rows) to test the grouping."""
    rng = np.random.default_rng(seed)
    ids, X, y = [], [], []
    for k in range(n_subjects):
        group = "BD" if k % 2 == 0 else "MDD"
        for _ in range(sessions_each):
            s = simulate_session(rng, group, effect)
            series = SessionSeries(s["time_s"], s["valence"], s["arousal"], s["quality"] == 0, s["segments"])
            ids.append(f"s{k:03d}")
            X.append(subject_features([series]).vector())
            y.append(1 if group == "BD" else 0)
    return Cohort(ids, np.array(y), np.vstack(X), len(ids), True, "")


def test_folds_never_split_a_subject():
    c = _cohort_with_sessions(20, 3, effect=1.0)
    cv = cross_validate(c, n_splits=5, seed=0)
    seen: set[str] = set()
    for test in cv.test_subjects:
        train = {s for s in c.subject_ids} - set(test)
        assert not set(test) & train
        assert not set(test) & seen  # each subject is tested exactly once
        seen |= set(test)
        assert len(test) == 3 * len(set(test))  # all three sessions of a subject move together
    assert seen == set(c.subject_ids)


@pytest.fixture(scope="module")
def sim_effect(tmp_path_factory):
    return simulate_cohort(tmp_path_factory.mktemp("sim1"), n_bd=30, n_mdd=30, seed=1, effect=1.0)


def test_known_effect_gives_high_auc_and_no_effect_gives_chance(sim_effect, tmp_path):
    cohort = load_cohort(sim_effect)
    assert len(cohort.subject_ids) == 60 and cohort.simulated
    _, cv = train_model(cohort)
    assert cv.summary()["AUC"]["mean"] > 0.8
    null = load_cohort(simulate_cohort(tmp_path / "null", n_bd=30, n_mdd=30, seed=1, effect=0.0))
    _, cv0 = train_model(null)
    auc0 = cv0.summary()["AUC"]["mean"]
    # Leakage between train and test would push this up. Below 0.5 is the known small-sample
    # artefact of cross-validating on pure noise, so the lower bound is loose.
    assert 0.2 < auc0 < 0.7, auc0


@pytest.mark.parametrize("classifier", ["logreg", "gboost"])
def test_portable_json_model_reproduces_scikit_learn(sim_effect, classifier):
    cohort = load_cohort(sim_effect)
    X = cohort.X.copy()
    X[0, :8] = np.nan  # a subject with a missing label goes through the imputer
    est = make_estimator(classifier).fit(X, cohort.y)
    part = export_estimator(est, classifier)
    model = PortableModel.from_json(
        PortableModel(classifier, list(FEATURE_NAMES), part, [], {}).to_json())
    np.testing.assert_allclose(model.predict_proba(X), est.predict_proba(X)[:, 1], rtol=1e-9, atol=1e-12)


def test_cli_train_prints_metrics_and_writes_card(sim_effect, tmp_path, capsys):
    out = tmp_path / "model"
    assert main(["cohort", "train", str(sim_effect), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for name in ("ACC", "AUC", "sensitivity", "specificity", "Brier"):
        assert re.search(rf"^{name} \d\.\d{{3}} ± \d\.\d{{3}}$", text, re.MULTILINE), name
    card = load_model(out).card
    assert card["simulated"] is True and "SIMULATED" in card["statement"]
    assert card["cohort"]["n_subjects"] == {"BD": 30, "MDD": 30}
    assert card["cohort"]["manifest_sha256"] == hashlib.sha256(sim_effect.read_bytes()).hexdigest()
    assert card["features"] == list(FEATURE_NAMES) and len(card["cv"]["metrics"]["AUC"]["folds"]) == 5
    assert sum(card["cv"]["pooled"]["confusion"].values()) == 60
    assert (out / "MODEL_CARD.md").read_text().count("SIMULATED") >= 1
    assert main(["cohort", "evaluate", str(out), str(sim_effect), "--json"]) == 0
    ev = json.loads(capsys.readouterr().out)
    assert ev["metrics"]["AUC"]["value"] > 0.8


def test_cli_rejects_bad_manifest(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("subject_id,diagnosis,results,segments\na,BPD,x.h5,x.csv\n")
    assert main(["cohort", "train", str(m), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert "BD or MDD" in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_shipped_reference_model_is_what_the_documented_command_gives(tmp_path, capsys):
    shipped = load_model(reference_model_dir())
    card = shipped.card
    assert card["simulated"] is True and "not validated on patients" in card["statement"]
    assert card["cohort"]["n_subjects"] == {"BD": 130, "MDD": 132}
    assert card["classifier"] == "logreg" and len(shipped.folds) == 5
    cmd = card["reproduce"].replace("SIM", str(tmp_path / "sim")).replace(
        "--out bd_mdd_reference", f"--out {tmp_path / 'bd_mdd_reference'}")
    simulate, train = (c.split()[1:] for c in cmd.split(" && "))
    assert main(simulate) == 0 and main(train) == 0
    again = load_model(tmp_path / "bd_mdd_reference")
    assert again.card["cohort"]["manifest_sha256"] == card["cohort"]["manifest_sha256"]
    for a, b in zip([shipped.final, *shipped.folds], [again.final, *again.folds]):
        for key in ("impute", "mean", "scale", "coef"):
            np.testing.assert_allclose(a[key], b[key], rtol=1e-6, atol=1e-9)
    for name, m in card["cv"]["metrics"].items():
        assert again.card["cv"]["metrics"][name]["mean"] == pytest.approx(m["mean"])
        assert again.card["cv"]["metrics"][name]["sd"] == pytest.approx(m["sd"])
