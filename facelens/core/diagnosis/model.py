"""BD-versus-MDD prediction for one subject from a portable (JSON) model.

:class:`PortableModel` holds what a fitted pipeline needs to predict — imputation means,
standardisation and logistic-regression coefficients (or gradient-boosting trees) — for the
final model and each cross-validation fold model, plus the model card. Prediction needs numpy
only. :func:`predict_subject` returns a :class:`Prediction` or, when the input is not enough,
a :class:`Refusal` saying what is missing; it never invents a probability.

Uncertainty: the interval is the range (min–max) of the probabilities of the k fold models,
each trained on (k−1)/k of the cohort. It shows how much the answer depends on which subjects
trained the model; it is not a calibrated confidence interval.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from facelens.core.diagnosis.features import (
    CONTRAST_NAMES,
    MIN_VALID_SECONDS,
    SessionSeries,
    subject_features,
)

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.annotation.segments import Segment
    from facelens.core.results import SessionResults

MODEL_FORMAT = "facelens-bd-mdd/1"
MODEL_FILE = "model.json"
CARD_FILE = "MODEL_CARD.md"
#: Labels without which the model refuses: the paper's signal is the happy/sad contrast.
REQUIRED_LABELS = ("happy", "sad")
N_DRIVERS = 5
#: A feature more than this many training SDs from the training mean is reported as out of range:
#: the model extrapolates there (4 SD: beyond ~1 in 15,000 of a normal training distribution).
OUT_OF_RANGE_SD = 4.0


class DiagnosisModelError(Exception):
    """A model file that cannot be used; one-line message."""


def reference_model_dir() -> Path:
    """Folder of the shipped reference model (``models/bd_mdd_reference`` in the source tree)."""
    from facelens.core.common.paths import models_src_dir

    return models_src_dir() / "bd_mdd_reference"


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def export_estimator(est: Any, classifier: str) -> dict[str, Any]:
    """A fitted ``cohort.make_estimator`` pipeline as plain lists (JSON-ready)."""
    impute = est.named_steps["impute"].statistics_
    clf = est.named_steps["clf"]
    if classifier == "logreg":
        scale = est.named_steps["scale"]
        return {"impute": impute.tolist(), "mean": scale.mean_.tolist(), "scale": scale.scale_.tolist(),
                "coef": clf.coef_[0].tolist(), "intercept": float(clf.intercept_[0])}
    x0 = np.zeros((1, len(impute)))
    trees = [t[0].tree_ for t in clf.estimators_]
    # The initial raw score (log-odds of the training prior) is what remains of the decision at x0.
    init = float(clf.decision_function(x0)[0] - clf.learning_rate * sum(t.predict(x0.astype(np.float32))[0, 0]
                                                                        for t in trees))
    return {"impute": impute.tolist(), "init_raw": init, "learning_rate": float(clf.learning_rate),
            "trees": [{"left": t.children_left.tolist(), "right": t.children_right.tolist(),
                       "feature": t.feature.tolist(), "threshold": t.threshold.tolist(),
                       "value": t.value[:, 0, 0].tolist()} for t in trees]}


def _raw_score(part: dict[str, Any], X: np.ndarray) -> np.ndarray:
    """Log-odds of BD for rows of already-imputed ``X``."""
    if "coef" in part:
        z = (X - np.asarray(part["mean"])) / np.asarray(part["scale"])
        return z @ np.asarray(part["coef"]) + float(part["intercept"])
    # scikit-learn's trees compare float32 features with float64 thresholds: do the same.
    Xf = X.astype(np.float32).astype(np.float64)
    raw = np.full(len(X), float(part["init_raw"]))
    for t in part["trees"]:
        left, right, feat, thr, val = t["left"], t["right"], t["feature"], t["threshold"], t["value"]
        for i, row in enumerate(Xf):
            node = 0
            while left[node] != -1:
                node = left[node] if row[feat[node]] <= thr[node] else right[node]
            raw[i] += part["learning_rate"] * val[node]
    return raw


@dataclass
class PortableModel:
    """A trained BD-vs-MDD model as plain numbers; see module docstring."""

    classifier: str
    feature_names: list[str]
    final: dict[str, Any]
    folds: list[dict[str, Any]]
    card: dict[str, Any]

    def impute(self, X: np.ndarray, part: dict[str, Any] | None = None) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, np.float64))
        fill = np.asarray((part or self.final)["impute"])
        return np.where(np.isfinite(X), X, fill)

    def predict_proba(self, X: np.ndarray, part: dict[str, Any] | None = None) -> np.ndarray:
        """Probability of BD per row (NaN features are imputed with the training means)."""
        part = part or self.final
        return _sigmoid(_raw_score(part, self.impute(X, part)))

    def fold_probas(self, X: np.ndarray) -> np.ndarray:
        """``(n_folds, n_rows)`` probabilities of the cross-validation fold models."""
        return np.vstack([self.predict_proba(X, f) for f in self.folds])

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contribution to the log-odds of BD for one subject.

        Logistic regression: standardised coefficient × standardised value, ``coef_j · z_j``.
        Gradient boosting: the change in log-odds when feature j is set to its training mean.
        """
        xi = self.impute(x)[0]
        if self.classifier == "logreg":
            z = (xi - np.asarray(self.final["mean"])) / np.asarray(self.final["scale"])
            return z * np.asarray(self.final["coef"])
        base = _raw_score(self.final, xi[None])[0]
        occluded = np.repeat(xi[None], len(xi), axis=0)
        np.fill_diagonal(occluded, np.asarray(self.final["impute"]))
        return base - _raw_score(self.final, occluded)

    def to_json(self) -> str:
        return json.dumps({"format": MODEL_FORMAT, "classifier": self.classifier,
                           "feature_names": self.feature_names, "final": self.final,
                           "folds": self.folds, "card": self.card}, indent=1)

    @classmethod
    def from_json(cls, text: str, source: str = "model") -> PortableModel:
        try:
            d = json.loads(text)
            if d.get("format") != MODEL_FORMAT:
                raise DiagnosisModelError(f"{source}: not a FaceLens BD-vs-MDD model (format {d.get('format')!r})")
            return cls(d["classifier"], list(d["feature_names"]), d["final"], list(d["folds"]), d["card"])
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise DiagnosisModelError(f"{source}: corrupt model file ({exc})") from None


def load_model(path: str | os.PathLike[str] | None = None) -> PortableModel:
    """Load a model folder (or its ``model.json``); ``None`` loads the shipped reference."""
    p = Path(path) if path is not None else reference_model_dir()
    f = p / MODEL_FILE if p.is_dir() else p
    if not f.is_file():
        raise DiagnosisModelError(f"model not found: {f}")
    try:
        text = f.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # e.g. a results file given where the model goes
        raise DiagnosisModelError(f"{f.name} is not a FaceLens BD-vs-MDD model (not a JSON text file)") from None
    except OSError as exc:
        raise DiagnosisModelError(f"cannot read model {f}: {exc.strerror or exc}") from None
    return PortableModel.from_json(text, source=f.name)


def card_markdown(card: dict[str, Any]) -> str:
    """The model card as a short human-readable Markdown page."""
    lines = [f"# Model card: {card.get('model_id', 'bd_mdd')}", "", f"**{card['statement']}**", "",
             f"- Task: {card['task']}", f"- Classifier: {card['classifier']} {card['hyperparameters']}",
             f"- Cohort: {card['cohort']['n_subjects']} subjects, {card['cohort']['n_sessions']} sessions",
             f"- Manifest SHA-256: `{card['cohort']['manifest_sha256']}`",
             f"- Simulated: {str(card['simulated']).lower()}", f"- Created: {card['created']}",
             f"- Software: {card['software']}"]
    if card.get("reproduce"):
        lines += [f"- Reproduce: `{card['reproduce']}`"]
    lines += ["", f"## Cross-validation ({card['cv']['scheme']}; {card['cv']['sd']})", ""]
    for name, m in card["cv"]["metrics"].items():
        lines.append(f"- {name} {m['mean']:.3f} ± {m['sd']:.3f}")
    c = card["cv"]["pooled"]["confusion"]
    lines += [(f"- Pooled out-of-fold: AUC {card['cv']['pooled']['AUC']:.3f}, Brier {card['cv']['pooled']['Brier']:.3f},"
              f" confusion TP {c['tp']} FN {c['fn']} FP {c['fp']} TN {c['tn']}"), "",
              "## Features", "", ", ".join(card["features"]), "",
              "Definitions: docs/dynamics.md. Uncertainty: range over the fold models (not a calibrated CI).", ""]
    return "\n".join(lines)


def save_model(model: PortableModel, out_dir: str | os.PathLike[str]) -> Path:
    """Write ``model.json`` and ``MODEL_CARD.md`` into ``out_dir`` atomically."""
    from facelens.core.common.atomic import atomic_write_text

    d = Path(out_dir)
    atomic_write_text(d / MODEL_FILE, model.to_json() + "\n", make_parents=True)
    atomic_write_text(d / CARD_FILE, card_markdown(model.card))
    return d


# -- prediction --------------------------------------------------------------------------------
@dataclass
class Driver:
    """A feature that moved the prediction: ``contribution`` is in log-odds (+ towards BD)."""

    feature: str
    value: float  # the subject's value (NaN if imputed)
    contribution: float
    imputed: bool


@dataclass
class Prediction:
    """Probability of BD (versus MDD) for one subject, with its uncertainty and reasons."""

    probability_bd: float
    interval: tuple[float, float]  # min–max over the fold models
    fold_probabilities: list[float]
    drivers: list[Driver]
    imputed_features: list[str]
    missing_labels: list[str]
    n_valid_frames: dict[str, int]
    n_sessions: int
    model_id: str
    simulated: bool  # the model was trained on simulated data
    out_of_range: list[str] = field(default_factory=list)  # features beyond OUT_OF_RANGE_SD training SDs
    card: dict[str, Any] = field(repr=False, default_factory=dict)
    interval_method: str = "range of the cross-validation fold models' probabilities (not a calibrated CI)"
    #: (low, high, n): fraction of BD, Wilson 95 %, among training subjects whose out-of-fold
    #: probability fell in the same bin (None when the card has no reliability curve there)
    calibrated: tuple[float, float, int] | None = None
    drivers_plain: list[str] = field(default_factory=list)  # the drivers in plain words (feature_names)
    seconds: dict[str, float] = field(default_factory=dict)  # usable seconds per label
    contrasts: dict[str, float] = field(default_factory=dict)  # within-person contrasts vs neutral

    @property
    def leaning(self) -> str:
        return "BD" if self.probability_bd >= 0.5 else "MDD"


@dataclass
class Refusal:
    """No probability: the input is not enough. ``reason`` is one line for the user."""

    reason: str
    missing: list[str]
    n_valid_frames: dict[str, int]
    model_id: str
    reasons: list[str] = field(default_factory=list)  # every reason, plain words (``reason`` joins them)
    simulated: bool = False  # the model was trained on simulated data


SessionInput = Union[SessionSeries, "tuple[SessionResults, Sequence[Segment]]"]


def predict_subject(model: PortableModel, sessions: Sequence[SessionInput],
                    nuisance_probabilities: Sequence[float] | None = None,
                    nuisance_reference: float | None = None) -> Prediction | Refusal:
    """Predict BD vs MDD from all sessions of one subject, or refuse with the reason.

    Parameters
    ----------
    model
        From :func:`load_model`.
    sessions
        ``SessionSeries`` or ``(SessionResults, segments)`` pairs of the same subject.

    Notes
    -----
    Refuses (:mod:`facelens.core.diagnosis.guard`) when there is no session, when a label in
    ``REQUIRED_LABELS`` has less than ``MIN_VALID_SECONDS`` of valid frames over all sessions, when
    the sampling rate is not the model's, when the features lie outside the training distribution,
    or when ``nuisance_probabilities`` (the same session under the validity harness's perturbations)
    move the probability by more than 0.1 from ``nuisance_reference`` (the unperturbed session through
    the same harness path; default: this prediction's probability). A missing neutral label (or an undefined index) is
    imputed with the training mean and listed in ``imputed_features``.
    """
    from facelens.core.diagnosis import guard
    from facelens.core.diagnosis.feature_names import describe_driver

    model_id = str(model.card.get("model_id", ""))
    simulated = bool(model.card.get("simulated", True))
    if not sessions:
        return Refusal("no session given", list(REQUIRED_LABELS), {}, model_id, ["no session given"], simulated)
    series = [s if isinstance(s, SessionSeries) else SessionSeries.from_results(s[0], s[1]) for s in sessions]
    feats = subject_features(series)
    short = [lab for lab in REQUIRED_LABELS if feats.seconds[lab] < MIN_VALID_SECONDS - 1e-9]
    if short:
        parts = []
        for lab in short:
            annotated = any(g.label == lab for s in series for g in s.segments)
            parts.append(f"'{lab}' has {feats.seconds[lab]:.1f} s of valid frames (need {MIN_VALID_SECONDS:.0f} s)"
                         if annotated else f"no '{lab}' segment annotated")
        return Refusal("not enough input: " + "; ".join(parts), short, dict(feats.n_valid), model_id, parts,
                       simulated)
    x = feats.vector(model.feature_names)
    problems = guard.support_problems(model.card, model.feature_names, x, feats)
    p = float(model.predict_proba(x)[0])
    unstable = guard.instability_problem(p, nuisance_probabilities or [], nuisance_reference)
    if unstable:
        problems.append(unstable)
    if problems:
        reason = "the model cannot support a prediction for this subject: " + "; ".join(problems)
        if simulated:
            reason += " (the model was trained on simulated data, which real sessions rarely resemble)"
        return Refusal(reason, [], dict(feats.n_valid), model_id, problems, simulated)
    folds = model.fold_probas(x)[:, 0] if model.folds else np.array([p])
    contrib = model.contributions(x)
    order = np.argsort(-np.abs(contrib))[:N_DRIVERS]
    drivers = [Driver(model.feature_names[j], float(x[j]), float(contrib[j]), bool(not np.isfinite(x[j])))
               for j in order]
    imputed = [n for n, v in zip(model.feature_names, x) if not np.isfinite(v)]
    out_of_range = _out_of_range(model, x)
    return Prediction(
        probability_bd=p, interval=(float(folds.min()), float(folds.max())),
        fold_probabilities=[float(f) for f in folds], drivers=drivers, imputed_features=imputed,
        missing_labels=list(feats.missing_labels), n_valid_frames=dict(feats.n_valid),
        n_sessions=feats.n_sessions, model_id=model_id, simulated=simulated,
        out_of_range=out_of_range, card=model.card, calibrated=guard.calibrated_interval(model.card, p),
        drivers_plain=[describe_driver(d.feature, d.value, d.contribution, d.imputed) for d in drivers],
        seconds=dict(feats.seconds),
        contrasts={n: float(feats.values[n]) for n in CONTRAST_NAMES},
    )


def _out_of_range(model: PortableModel, x: np.ndarray) -> list[str]:
    """Features of ``x`` farther than ``OUT_OF_RANGE_SD`` training SDs from the training mean."""
    stats = model.card.get("feature_stats") or {}
    mean = np.array([np.nan if m is None else m for m in stats.get("mean", [])], dtype=np.float64)
    sd = np.array([np.nan if m is None else m for m in stats.get("sd", [])], dtype=np.float64)
    if mean.shape != x.shape or sd.shape != x.shape:
        return []
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.abs(x - mean) / sd
    return [n for n, zi, s in zip(model.feature_names, z, sd) if np.isfinite(zi) and s > 0 and zi > OUT_OF_RANGE_SD]
