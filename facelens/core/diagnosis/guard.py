"""When a BD-vs-MDD prediction must be refused, and the calibrated interval when it is given.

A model is only as good as the sessions resemble its training data. :func:`support_problems`
lists, in plain words, why this subject is outside what the model can support:

* **sampling rate**: the session's median rate differs from the model's by more than
  ``MAX_FPS_DEVIATION`` (10 %): MSSD and inertia are per-step quantities and change with the rate;
* **usable time**: happy or sad has less than ``MIN_VALID_SECONDS`` of valid frames;
* **outside the training distribution**: a feature lies more than ``RANGE_MARGIN_SD`` (1) training
  SD beyond the training cohort's range (cards without a stored range: more than
  ``OUT_OF_RANGE_SD`` SDs from the mean), or the subject's squared Mahalanobis distance (training
  correlation) exceeds ``D2_MARGIN`` (1.25) times the largest of any training subject (cards without
  it: the chi-square 99.9 % quantile). Empirical limits, because MSSD and SD features are skewed:
  a normal-theory 4-SD rule refused 4 of 60 fresh simulated subjects drawn like the training
  cohort (seeds 10-39 of each group), these limits refuse 2 of them.

:func:`instability_problem` refuses when the probability moves by more than ``MAX_NUISANCE_SHIFT``
(0.1, the reliability target of docs/validity.md) under the validity harness's nuisance perturbations of this session.
:func:`calibrated_interval` reads the card's out-of-fold reliability curve: among training subjects
whose cross-validated probability fell in the same bin, the fraction with BD and its Wilson 95 %
interval. For the simulated reference model that calibration is a property of the simulation.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from facelens.core.diagnosis.feature_names import plain_name
from facelens.core.diagnosis.features import MIN_VALID_SECONDS, SubjectFeatures

MAX_FPS_DEVIATION = 0.10
OUT_OF_RANGE_SD = 4.0
RANGE_MARGIN_SD = 1.0
D2_MARGIN = 1.25
CHI2_QUANTILE = 0.999
MAX_NUISANCE_SHIFT = 0.10
REQUIRED_LABELS = ("happy", "sad")


def model_fps(card: dict[str, Any]) -> float:
    """Sampling rate the model was trained at (card ``sampling_fps``, else its simulation's), NaN if unknown."""
    fps = card.get("sampling_fps")
    if fps is None:
        fps = (card.get("cohort", {}).get("simulation") or {}).get("fps")
    return float(fps) if fps is not None else float("nan")


def _training_stats(card: dict[str, Any], n: int) -> tuple[np.ndarray, np.ndarray]:
    stats = card.get("feature_stats") or {}
    mean = np.array([np.nan if m is None else m for m in stats.get("mean", [np.nan] * n)], np.float64)
    sd = np.array([np.nan if m is None else m for m in stats.get("sd", [np.nan] * n)], np.float64)
    return mean, sd


def standardised(card: dict[str, Any], names: Sequence[str], x: np.ndarray) -> np.ndarray:
    """``(x - training mean) / training SD`` per feature (NaN where undefined; flags excluded)."""
    mean, sd = _training_stats(card, len(names))
    if mean.shape != x.shape:
        return np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (x - mean) / sd
    flags = np.array([n.startswith("has_") for n in names])
    return np.where(flags | ~(sd > 0), np.nan, z)


def support_problems(card: dict[str, Any], names: Sequence[str], x: np.ndarray, feats: SubjectFeatures) -> list[str]:
    """Plain-words reasons why the model cannot support a prediction for ``x`` (empty: supported)."""
    from scipy.stats import chi2

    problems = []
    fps_model, fps = model_fps(card), feats.sampling_fps
    if not np.isfinite(fps_model):
        problems.append("the model card does not say at what frame rate it was trained")
    elif not np.isfinite(fps) or abs(fps - fps_model) > MAX_FPS_DEVIATION * fps_model:
        problems.append(f"the session was sampled at {fps:.1f} frames/s but the model was trained at "
                        f"{fps_model:.0f} frames/s (instability and inertia depend on the rate)")
    for lab in REQUIRED_LABELS:
        sec = feats.seconds.get(lab, 0.0)
        if sec < MIN_VALID_SECONDS - 1e-9:
            problems.append(f"the {lab} segments have {sec:.1f} s of usable face (need {MIN_VALID_SECONDS:.0f} s)")
    z = standardised(card, names, x)
    far = _outside_range(card, names, x, z)
    if far:
        worst = sorted(far, key=lambda t: -abs(t[1]))[:3]
        listed = "; ".join(f"{plain_name(n)[0]} ({abs(zi):.0f} SD {'above' if zi > 0 else 'below'})"
                           for n, zi in worst)
        problems.append(f"{len(far)} measure(s) lie far outside the training cohort: {listed}")
    ok = np.isfinite(z)
    corr = card.get("feature_stats", {}).get("corr")
    if ok.sum() >= 2:
        c = np.asarray(corr, np.float64) if corr is not None else None
        d2 = mahalanobis2(c if c is not None and c.shape == (z.size, z.size) else None, z, ok)
        d2_max = card.get("training_d2_max")
        if d2_max is not None:
            limit, what = D2_MARGIN * float(d2_max), f"{D2_MARGIN:g} x the largest of any training subject"
        else:
            limit, what = float(chi2.ppf(CHI2_QUANTILE, int(ok.sum()))), "the chi-square 99.9 % limit"
        if d2 > limit:
            problems.append(f"the overall pattern of measures is unlike the training cohort's "
                            f"(squared distance {d2:.0f}, above {what}, {limit:.0f})")
    return problems


def _outside_range(card: dict[str, Any], names: Sequence[str], x: np.ndarray, z: np.ndarray
                   ) -> list[tuple[str, float]]:
    stats = card.get("feature_stats") or {}
    lo = np.array([np.nan if m is None else m for m in stats.get("min", [])], np.float64)
    hi = np.array([np.nan if m is None else m for m in stats.get("max", [])], np.float64)
    _, sd = _training_stats(card, len(names))
    if lo.shape != x.shape or hi.shape != x.shape:
        return [(n, zi) for n, zi in zip(names, z) if np.isfinite(zi) and abs(zi) > OUT_OF_RANGE_SD]
    out = []
    for n, xi, zi, a, b, s in zip(names, x, z, lo, hi, sd):
        if np.isfinite(zi) and (xi < a - RANGE_MARGIN_SD * s or xi > b + RANGE_MARGIN_SD * s):
            out.append((n, zi))
    return out


def mahalanobis2(corr: np.ndarray | None, z: np.ndarray, ok: np.ndarray) -> float:
    """Squared Mahalanobis distance of standardised ``z`` over the features ``ok`` (diagonal without ``corr``)."""
    if corr is not None:
        sub = corr[np.ix_(ok, ok)]
        return float(z[ok] @ np.linalg.pinv(sub) @ z[ok])
    return float(np.sum(z[ok] ** 2))


def instability_problem(probability: float, nuisance_probabilities: Sequence[float],
                        reference: float | None = None) -> str | None:
    """Refusal reason when the nuisance variants move the probability by more than 0.1, else None.

    ``reference``: the unperturbed probability computed the same way as the variants (default:
    ``probability``), so that the shift is the nuisance's alone.
    """
    ps = np.asarray([p for p in nuisance_probabilities if np.isfinite(p)], np.float64)
    if ps.size == 0:
        return None
    base = probability if reference is None or not np.isfinite(reference) else reference
    shift = float(np.max(np.abs(ps - base)))
    if shift > MAX_NUISANCE_SHIFT:
        return (f"the answer is unstable: ordinary changes of lighting or camera move it by up to {shift:.2f} "
                f"(allowed {MAX_NUISANCE_SHIFT:.1f})")
    return None


def wilson(k: float, n: int, zq: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``."""
    if n <= 0:
        return float("nan"), float("nan")
    p = k / n
    den = 1 + zq * zq / n
    centre = (p + zq * zq / (2 * n)) / den
    half = zq * np.sqrt(p * (1 - p) / n + zq * zq / (4 * n * n)) / den
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def calibrated_interval(card: dict[str, Any], probability: float) -> tuple[float, float, int] | None:
    """(low, high, n) from the card's out-of-fold reliability bins, or None when the card has none."""
    rel = card.get("cv", {}).get("pooled", {}).get("reliability")
    if not rel or not rel.get("bin_lower"):
        return None
    lowers = np.asarray(rel["bin_lower"], np.float64)
    i = int(np.searchsorted(lowers, probability, side="right") - 1)
    i = max(0, min(i, len(lowers) - 1))
    if probability >= lowers[i] + 1.0 / 10 + 1e-9:  # no training subject in this probability's bin
        return None
    n = int(rel["count"][i])
    lo, hi = wilson(float(rel["fraction_bd"][i]) * n, n)
    return lo, hi, n
