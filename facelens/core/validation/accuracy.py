"""Accuracy against labels: DiffusionFER faces (valence, arousal, 7 expression classes).

The faces are analysed as stills by ``facelens batch`` (one results file per image); this module
reads the stored per-image values of the shipped pipeline, or re-runs an estimator on the stored
per-image measures. A still has no person baseline, so the geometric cues of the shipped estimator
are inert there (trust 0): its still-image figures are those of the appearance path. Estimators
fitted on DiffusionFER must be scored out of fold (their own 5-fold CV); :func:`score` refuses to
score an estimator in-sample when told it was fitted on these labels.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.affect.fer import FER_TO_AFFECTNET
from facelens.core.affect.g_runtime import G_LABELS
from facelens.core.common import agreement as metrics

#: AffectNet's 7 basic classes as DiffusionFER codes them (G's order); FER2013 names map onto them.
CLASSES = G_LABELS
FER_TO_CLASS = FER_TO_AFFECTNET


@dataclass
class Labelled:
    """Predictions and labels of a labelled image set (NaN / '' where there was no usable face)."""

    ids: list[str]
    true_class: list[str]
    true_va: np.ndarray  # (N, 2)
    pred_va: np.ndarray  # (N, 2)
    pred_class: list[str]
    source: str = ""
    estimator: str = ""  # the estimator that made the stored values ("g" when any file was made by G)


@dataclass
class AccuracyResult:
    n: int
    n_scored: int
    v_ccc: float
    a_ccc: float
    v_rmse: float
    a_rmse: float
    v_r: float
    a_r: float
    pred_sd: tuple[float, float]
    label_sd: tuple[float, float]
    acc7: float
    recall: dict[str, float] = field(default_factory=dict)
    confusion: list[list[int]] = field(default_factory=list)


def read_cached(folder: Path) -> Labelled:
    """Stored pipeline outputs of a ``facelens batch`` run with a ``labels.tsv`` beside it.

    ``labels.tsv`` columns: session_id, results (relative path), expression, valence, arousal.
    """
    from facelens.core.results import ResultsError, SessionResults

    rows = list(csv.DictReader((folder / "labels.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    ids, tc, tva, pva, pc = [], [], [], [], []
    made_by: set[str] = set()
    for r in rows:
        ids.append(r["session_id"])
        tc.append(r["expression"])
        tva.append((float(r["valence"]), float(r["arousal"])))
        v = a = float("nan")
        cls = ""
        try:
            with SessionResults.open(folder / r["results"]) as res:
                made_by.add(str(res.meta.get("va_estimator", "circumplex")))
                if res.n_frames and bool(res.usable[0]):
                    v, a = float(res.valence[0]), float(res.arousal[0])
                    if res.emotions is not None and np.all(np.isfinite(res.emotions[0])):
                        cls = FER_TO_CLASS.get(res.emotion_labels[int(np.argmax(res.emotions[0]))], "")
        except ResultsError:
            pass
        pva.append((v, a))
        pc.append(cls)
    estimator = "g" if "g" in made_by else ",".join(sorted(made_by))
    return Labelled(ids, tc, np.array(tva, float), np.array(pva, float), pc, str(folder.name), estimator)


def score(data: Labelled, fitted_on_these_labels: bool = False) -> AccuracyResult:
    """V/A CCC, RMSE, r and 7-class accuracy with confusion matrix (rows true, columns predicted).

    Raises
    ------
    ValueError
        When ``fitted_on_these_labels``, or the stored values were made by G (trained on the
        DiffusionFER labels): such figures must come from out-of-fold predictions
        (``facelens eval-affect --cv 5``).
    """
    if fitted_on_these_labels or data.estimator == "g":
        raise ValueError("this estimator was fitted on these labels: score its out-of-fold predictions instead")
    t, p = data.true_va, data.pred_va
    ok = np.all(np.isfinite(p), axis=1)
    conf = metrics.confusion(data.true_class, data.pred_class, CLASSES)
    _, recall = metrics.class_accuracy(conf)
    scored = int(np.sum([c != "" for c in data.pred_class]))
    # accuracy over every labelled image: a face without a value counts as wrong
    acc_all = float(np.trace(conf) / len(data.ids)) if data.ids else float("nan")
    return AccuracyResult(
        n=len(data.ids), n_scored=int(ok.sum()),
        v_ccc=metrics.ccc(t[:, 0], p[:, 0]), a_ccc=metrics.ccc(t[:, 1], p[:, 1]),
        v_rmse=metrics.rmse(t[:, 0], p[:, 0]), a_rmse=metrics.rmse(t[:, 1], p[:, 1]),
        v_r=metrics.pearson(t[:, 0], p[:, 0]), a_r=metrics.pearson(t[:, 1], p[:, 1]),
        pred_sd=(float(np.nanstd(p[:, 0])), float(np.nanstd(p[:, 1]))),
        label_sd=(float(np.std(t[ok, 0])), float(np.std(t[ok, 1]))),
        acc7=acc_all if scored else float("nan"),
        recall={c: float(r) for c, r in zip(CLASSES, recall)}, confusion=conf.tolist())


def rescore(folder: Path, estimate: Any, fitted_on_these_labels: bool = False) -> AccuracyResult:
    """Re-run an estimator (``estimators.get(...)``) on each stored still and score it (:func:`rerun`)."""
    return score(rerun(folder, estimate), fitted_on_these_labels)


def rerun(folder: Path, estimate: Any) -> Labelled:
    """An estimator's predictions on each stored still, with the labels.

    Each image becomes a one-frame :class:`FrameData` from its results file. Its appearance input is
    FER2013's own posterior: ``emotions_appearance`` where the file has it (files made with G, whose
    ``emotions`` are G's output), else ``emotions`` (the circumplex estimator's fusion leaves a still's
    posterior unchanged: no trusted baseline on a first frame).
    """
    from facelens.core.results import ResultsError, SessionResults
    from facelens.core.validation.runner import FrameData

    base = read_cached(folder)
    rows = list(csv.DictReader((folder / "labels.tsv").read_text(encoding="utf-8").splitlines(), delimiter="\t"))
    pva, pc = [], []
    for r in rows:
        v = a = float("nan")
        cls = ""
        try:
            with SessionResults.open(folder / r["results"]) as res:
                app = getattr(res, "emotions_appearance", None)
                app = res.emotions if app is None else app
                if res.n_frames and app is not None:
                    d = FrameData(res.time_s[:1], res.quality[:1], res.expressions[:1], np.asarray(app[:1], np.float32),
                                  res.euler[:1].astype(np.float32), np.zeros((1, 1, 3), np.float32))
                    vv, aa, post = estimate(d)
                    v, a = float(vv[0]), float(aa[0])
                    # an estimator without a posterior (geometry only) classifies nothing
                    if post is not None and np.all(np.isfinite(post[0])) and np.isfinite(v):
                        cls = FER_TO_CLASS.get(res.emotion_labels[int(np.argmax(post[0]))], "")
        except ResultsError:
            pass
        pva.append((v, a))
        pc.append(cls)
    return Labelled(base.ids, base.true_class, base.true_va, np.array(pva, float), pc, base.source, "rerun")


def neutral_spread(data: Labelled) -> dict[str, float]:
    """Identity check: predicted VA of the faces labelled neutral (every one a different person).

    An estimator free of identity would put them all near (0, 0): reported are the mean and SD of
    predicted valence and arousal and the share of neutral faces beyond 0.2 on either axis.
    """
    m = np.array([c == "neutral" for c in data.true_class]) & np.all(np.isfinite(data.pred_va), axis=1)
    p = data.pred_va[m]
    if not len(p):
        return {"n": 0}
    far = np.mean(np.any(np.abs(p) > 0.2, axis=1))
    return {"n": len(p), "v_mean": float(p[:, 0].mean()), "v_sd": float(p[:, 0].std()),
            "a_mean": float(p[:, 1].mean()), "a_sd": float(p[:, 1].std()), "share_beyond_0.2": float(far)}


def label_abs_corr_va(data: Labelled, classes: tuple[str, ...]) -> dict[str, float]:
    """|corr(V, A)| of the *labels* pooled over the faces of ``classes`` (e.g. happy, sad, neutral).

    What a perfectly calibrated estimator would give, frame by frame, on a clip that shows these
    expressions in equal measure to the label set: the yardstick for the frame-wise |corr(V, A)| of
    the real clips (the harness's discriminant check).
    """
    m = np.isin(np.asarray(data.true_class), classes) & np.all(np.isfinite(data.true_va), axis=1)
    va = data.true_va[m]
    if len(va) < 3 or np.any(va.std(axis=0) == 0):
        return {"n": len(va), "abs_corr": float("nan")}
    return {"n": len(va), "abs_corr": float(abs(np.corrcoef(va[:, 0], va[:, 1])[0, 1]))}
