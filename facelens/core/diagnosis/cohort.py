"""Cohort training and evaluation of the BD-versus-MDD model with subject-level CV.

A cohort manifest is a CSV with the columns ``subject_id, diagnosis (BD/MDD), results,
segments`` (paths relative to the manifest); a subject may have several rows (sessions).
Each subject becomes one feature row (``core.features``), so cross-validation splits
subjects, never sessions (``StratifiedGroupKFold`` with the subject as group).

The trained model is saved as portable JSON (``core.diagnosis.PortableModel``): imputation
means, standardisation and logistic-regression coefficients (or the trees of the gradient
boosting option) for the final model and each fold model, plus its card. scikit-learn is used
for fitting only; prediction needs nothing but numpy.
"""
from __future__ import annotations

import hashlib
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import numpy as np

from facelens.core.diagnosis.cohort_data import (  # noqa: F401 - the manifest half, re-exported
    DIAGNOSES,
    Cohort,
    CohortError,
    ManifestRow,
    load_cohort,
    read_manifest,
    subjects_of,
)
from facelens.core.diagnosis.features import MIN_VALID_FRAMES
from facelens.core.diagnosis.model import PortableModel, export_estimator
from facelens.core.dynamics import PAC_THRESHOLD

CLASSIFIERS = ("logreg", "gboost")
METRICS = ("ACC", "AUC", "sensitivity", "specificity", "Brier")
LOGREG_C = 1.0  # L2 strength: scikit-learn's default, not tuned (no nested CV on a simulation)


def make_estimator(classifier: str = "logreg", seed: int = 0) -> Any:
    """The scikit-learn pipeline: mean imputation (+ flags in the features), scaling, classifier."""
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    impute = SimpleImputer(strategy="mean", keep_empty_features=True)
    if classifier == "logreg":
        clf = LogisticRegression(C=LOGREG_C, max_iter=5000)
        return Pipeline([("impute", impute), ("scale", StandardScaler()), ("clf", clf)])
    if classifier == "gboost":
        clf = GradientBoostingClassifier(n_estimators=100, max_depth=2, learning_rate=0.1, random_state=seed)
        return Pipeline([("impute", impute), ("clf", clf)])
    raise CohortError(f"unknown classifier {classifier!r} (choose {' or '.join(CLASSIFIERS)})")


def binary_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """ACC, AUC, sensitivity (BD recall), specificity (MDD recall) at 0.5, and Brier score."""
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y)
    pred = (np.asarray(p) >= 0.5).astype(int)
    pos, neg = y == 1, y == 0
    nan = float("nan")
    return {
        "ACC": float(np.mean(pred == y)),
        "AUC": float(roc_auc_score(y, p)) if pos.any() and neg.any() else nan,
        "sensitivity": float(np.mean(pred[pos] == 1)) if pos.any() else nan,
        "specificity": float(np.mean(pred[neg] == 0)) if neg.any() else nan,
        "Brier": float(np.mean((np.asarray(p) - y) ** 2)),
    }


@dataclass
class CVResult:
    folds: list[dict[str, float]]  # metrics per fold
    test_subjects: list[list[str]]  # subject ids of each test fold
    oof: np.ndarray  # out-of-fold probability of BD per subject
    estimators: list[Any]

    def summary(self) -> dict[str, dict[str, Any]]:
        """Mean and sample SD (ddof=1) of each metric over folds (and the per-fold values)."""
        out: dict[str, dict[str, Any]] = {}
        for m in METRICS:
            vals = np.array([f[m] for f in self.folds])
            out[m] = {"mean": float(np.nanmean(vals)), "sd": float(np.nanstd(vals, ddof=1)),
                      "folds": [float(x) for x in vals]}
        return out


def cross_validate(cohort: Cohort, classifier: str = "logreg", n_splits: int = 5, seed: int = 0) -> CVResult:
    """Subject-level stratified k-fold CV; no subject is ever in train and test at once."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedGroupKFold

    n_min = int(min(np.sum(cohort.y == 1), np.sum(cohort.y == 0)))
    if n_min < n_splits:
        raise CohortError(f"need at least {n_splits} subjects per diagnosis for {n_splits}-fold CV (have {n_min})")
    groups = np.array(cohort.subject_ids)
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    template = make_estimator(classifier, seed)
    oof = np.full(len(cohort.y), np.nan)
    folds, tests, ests = [], [], []
    for train, test in cv.split(cohort.X, cohort.y, groups):
        est = clone(template).fit(cohort.X[train], cohort.y[train])
        p = est.predict_proba(cohort.X[test])[:, 1]
        oof[test] = p
        folds.append(binary_metrics(cohort.y[test], p))
        tests.append([cohort.subject_ids[i] for i in test])
        ests.append(est)
    return CVResult(folds, tests, oof, ests)


def pooled_curves(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> dict[str, Any]:
    """Pooled out-of-fold ROC, confusion matrix at 0.5 and reliability curve."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    pred = p >= 0.5
    edges = np.linspace(0, 1, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, n_bins - 1)
    rel: dict[str, list[Any]] = {"bin_lower": [], "mean_predicted": [], "fraction_bd": [], "count": []}
    for b in range(n_bins):
        m = which == b
        if m.any():
            rel["bin_lower"].append(round(float(edges[b]), 3))
            rel["mean_predicted"].append(round(float(p[m].mean()), 4))
            rel["fraction_bd"].append(round(float(y[m].mean()), 4))
            rel["count"].append(int(m.sum()))
    return {
        "roc": {"fpr": [round(float(x), 4) for x in fpr], "tpr": [round(float(x), 4) for x in tpr]},
        "confusion": {"tp": int(np.sum(pred & (y == 1))), "fn": int(np.sum(~pred & (y == 1))),
                      "fp": int(np.sum(pred & (y == 0))), "tn": int(np.sum(~pred & (y == 0)))},
        "reliability": rel,
        **{k: v for k, v in binary_metrics(y, p).items() if k in ("AUC", "Brier")},
    }


def train_model(cohort: Cohort, classifier: str = "logreg", n_splits: int = 5, seed: int = 0,
                model_id: str = "bd_mdd") -> tuple[PortableModel, CVResult]:
    """Cross-validate, then fit the final model on every subject; returns it with its card."""
    import sklearn

    from facelens import __version__

    cv = cross_validate(cohort, classifier, n_splits, seed)
    final = make_estimator(classifier, seed).fit(cohort.X, cohort.y)
    n_bd, n_mdd = int(np.sum(cohort.y == 1)), int(np.sum(cohort.y == 0))
    card: dict[str, Any] = {
        "model_id": model_id,
        "task": "probability of bipolar disorder (BD) versus major depressive disorder (MDD)",
        "simulated": cohort.simulated,
        "statement": (
            "Trained on SIMULATED data; not validated on patients. The CV metrics describe the simulation only."
            if cohort.simulated else
            "Trained on the cohort named below; research use only, not a diagnosis."),
        "classifier": classifier,
        "hyperparameters": ({"C": LOGREG_C, "penalty": "l2", "imputation": "mean"} if classifier == "logreg"
                            else {"n_estimators": 100, "max_depth": 2, "learning_rate": 0.1}),
        "cohort": {"n_subjects": {"BD": n_bd, "MDD": n_mdd}, "n_sessions": cohort.n_sessions,
                   "manifest_sha256": cohort.manifest_sha256, "simulation": cohort.simulation,
                   # salted digests, not the pseudonyms: enough to detect evaluation on training subjects
                   "subject_digests": sorted(subject_digest(s) for s in cohort.subject_ids)},
        "features": list(cohort.feature_names),
        "cv": {"scheme": f"subject-level StratifiedGroupKFold, {n_splits} folds, shuffle seed {seed}",
               "sd": "sample SD (ddof=1) over folds", "threshold": 0.5,
               "metrics": cv.summary(), "pooled": pooled_curves(cohort.y, cv.oof)},
        "thresholds": {"min_valid_frames_per_label": MIN_VALID_FRAMES, "pac_threshold": PAC_THRESHOLD},
        # Training distribution of each feature, so that a prediction can say when a subject lies
        # far outside what the model has seen (extrapolation).
        "feature_stats": {"mean": [_finite_or_none(x) for x in np.nanmean(cohort.X, axis=0)],
                          "sd": [_finite_or_none(x) for x in np.nanstd(cohort.X, axis=0, ddof=1)],
                          "corr": _feature_corr(cohort.X),
                          "min": [_finite_or_none(x) for x in np.nanmin(cohort.X, axis=0)],
                          "max": [_finite_or_none(x) for x in np.nanmax(cohort.X, axis=0)]},
        # largest squared Mahalanobis distance of a training subject (guard.support_problems)
        "training_d2_max": _training_d2_max(cohort.X, cohort.feature_names),
        # MSSD and inertia are per sampling step: predictions refuse sessions sampled otherwise
        "sampling_fps": _finite_or_none(cohort.sampling_fps),
        "software": {"facelens": __version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__,
                     "python": platform.python_version()},
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    model = PortableModel(
        classifier=classifier, feature_names=list(cohort.feature_names),
        final=export_estimator(final, classifier), folds=[export_estimator(e, classifier) for e in cv.estimators],
        card=card,
    )
    return model, cv


def _finite_or_none(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def _training_d2_max(X: np.ndarray, names: Sequence[str]) -> float | None:
    """Largest squared Mahalanobis distance of a training subject, computed as the guard computes it."""
    from facelens.core.diagnosis.guard import mahalanobis2

    mean, sd = np.nanmean(X, axis=0), np.nanstd(X, axis=0, ddof=1)
    corr = np.asarray(_feature_corr(X))
    flags = np.array([n.startswith("has_") for n in names])
    d2 = []
    for row in X:
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(flags | ~(sd > 0), np.nan, (row - mean) / sd)
        ok = np.isfinite(z)
        if ok.sum() >= 2:
            d2.append(mahalanobis2(corr, z, ok))
    return _finite_or_none(float(max(d2))) if d2 else None


def _feature_corr(X: np.ndarray) -> list[list[float]]:
    """Correlation matrix of the features (missing values mean-imputed; constant features 0, diagonal 1),
    for the Mahalanobis check of :mod:`facelens.core.diagnosis.guard`."""
    mean = np.nanmean(X, axis=0)
    filled = np.where(np.isfinite(X), X, np.where(np.isfinite(mean), mean, 0.0))
    sd = filled.std(axis=0)
    z = np.where(sd > 0, (filled - filled.mean(axis=0)) / np.where(sd > 0, sd, 1.0), 0.0)
    c = (z.T @ z) / max(len(X), 1)
    np.fill_diagonal(c, 1.0)
    return [[round(float(v), 6) for v in row] for row in c]


def evaluate_model(model: PortableModel, cohort: Cohort, n_boot: int = 1000, seed: int = 0) -> dict[str, dict[str, float]]:
    """Score an external cohort: each metric with the SD of 1000 subject bootstrap resamples."""
    p = model.predict_proba(cohort.X)
    point = binary_metrics(cohort.y, p)
    rng = np.random.default_rng(seed)
    boots: dict[str, list[float]] = {m: [] for m in METRICS}
    n = len(cohort.y)
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        for m, v in binary_metrics(cohort.y[idx], p[idx]).items():
            boots[m].append(v)
    return {m: {"value": point[m], "sd": float(np.nanstd(boots[m], ddof=1))} for m in METRICS}


def subject_digest(subject_id: str) -> str:
    """Short salted SHA-256 of a subject id, stored on model cards instead of the id itself."""
    return hashlib.sha256(f"facelens-subject:{subject_id}".encode()).hexdigest()[:16]


def training_overlap(model: PortableModel, cohort: Cohort) -> dict[str, Any]:
    """How much of ``cohort`` the model was trained on (an "external" score on it would be optimistic).

    Returns
    -------
    dict
        ``same_manifest`` (the card's manifest SHA-256 equals the cohort's), ``n_overlap`` (subjects
        of the cohort among the training subjects; ``None`` when the card predates subject digests),
        ``n_subjects`` and ``checked`` (whether subject-level overlap could be checked).
    """
    card_cohort = model.card.get("cohort", {}) if isinstance(model.card, dict) else {}
    digests = card_cohort.get("subject_digests")
    same = bool(card_cohort.get("manifest_sha256")) and card_cohort.get("manifest_sha256") == cohort.manifest_sha256
    n_overlap = None
    if isinstance(digests, list):
        train = set(digests)
        n_overlap = sum(subject_digest(s) in train for s in cohort.subject_ids)
    return {"same_manifest": same, "n_overlap": n_overlap, "n_subjects": len(cohort.subject_ids),
            "checked": n_overlap is not None}


def format_metrics(summary: dict[str, dict[str, Any]], key: str = "mean") -> list[str]:
    """One line per metric: ``NAME value ± sd``."""
    return [f"{m} {summary[m][key]:.3f} ± {summary[m]['sd']:.3f}" for m in METRICS]
