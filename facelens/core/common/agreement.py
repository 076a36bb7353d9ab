"""Agreement and accuracy statistics (numpy only): CCC, ICC(2,1), Pearson, RMSE, largest shift.

Definitions (each with its source):

* CCC, Lin's concordance correlation coefficient (Lin 1989, Biometrics 45:255-268):
  ``2 cov(x, y) / (var x + var y + (mean x - mean y)^2)`` with population moments; the
  AffectNet / AsmV2L papers report valence/arousal accuracy with it.
* ICC(2,1), two-way random effects, absolute agreement, single measurement (Shrout & Fleiss 1979,
  Psychol Bull 86:420-428; McGraw & Wong 1996 call it ICC(A,1)): targets are rows, conditions
  (original and perturbed recording) are columns,
  ``(MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n)``. Absolute agreement, because a
  perturbation that shifts every value by the same amount must count against reliability.
* RMSE and the largest absolute shift ``max |y - x|`` are plain.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _pairs(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"shapes differ: {x.shape} vs {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def ccc(x: np.ndarray, y: np.ndarray) -> float:
    """Lin's concordance correlation of the finite pairs (NaN with fewer than 2 pairs)."""
    a, b = _pairs(x, y)
    if a.size < 2:
        return float("nan")
    va, vb = a.var(), b.var()
    den = va + vb + (a.mean() - b.mean()) ** 2
    return float(2.0 * np.mean((a - a.mean()) * (b - b.mean())) / den) if den > 0 else float("nan")


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson correlation of the finite pairs (NaN when either side is constant)."""
    a, b = _pairs(x, y)
    if a.size < 3 or a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def rmse(x: np.ndarray, y: np.ndarray) -> float:
    """Root mean squared difference of the finite pairs."""
    a, b = _pairs(x, y)
    return float(np.sqrt(np.mean((a - b) ** 2))) if a.size else float("nan")


def max_shift(x: np.ndarray, y: np.ndarray) -> float:
    """Largest absolute difference of the finite pairs."""
    a, b = _pairs(x, y)
    return float(np.max(np.abs(a - b))) if a.size else float("nan")


def icc_2_1(table: np.ndarray) -> float:
    """ICC(2,1) of an ``(n targets, k conditions)`` table; rows with a non-finite value are dropped.

    NaN with fewer than 2 complete rows, or when the table has no variance at all.
    """
    t = np.asarray(table, np.float64)
    if t.ndim != 2 or t.shape[1] < 2:
        raise ValueError("need an (n, k >= 2) table")
    t = t[np.all(np.isfinite(t), axis=1)]
    n, k = t.shape
    if n < 2:
        return float("nan")
    grand = t.mean()
    ss_rows = k * np.sum((t.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((t.mean(axis=0) - grand) ** 2)
    ss_err = np.sum((t - grand) ** 2) - ss_rows - ss_cols
    msr, msc = ss_rows / (n - 1), ss_cols / (k - 1)
    mse = ss_err / ((n - 1) * (k - 1))
    den = msr + (k - 1) * mse + k * (msc - mse) / n
    return float((msr - mse) / den) if den > 0 else float("nan")


def confusion(true: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """``(K, K)`` counts, rows = true label, columns = predicted label (others ignored)."""
    index = {lab: i for i, lab in enumerate(labels)}
    out = np.zeros((len(labels), len(labels)), np.int64)
    for t, p in zip(true, pred):
        if t in index and p in index:
            out[index[t], index[p]] += 1
    return out


def class_accuracy(conf: np.ndarray) -> tuple[float, np.ndarray]:
    """Overall accuracy and per-class recall (NaN for an absent class) of a confusion matrix."""
    total = conf.sum()
    rows = conf.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(rows > 0, np.diag(conf) / np.maximum(rows, 1), np.nan)
    return (float(np.trace(conf) / total) if total else float("nan")), recall
