"""The dynamics indices of one series: successive differences over consecutive valid frames, MSSD, PAC,
inertia, quadrants and the response to a segment onset (definitions and sources: docs/dynamics.md)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from facelens.core.dynamics.types import (BASELINE_FALLBACK_S, BASELINE_MIN_FRAMES, BASELINE_WINDOW_S, CENTRE_RADIUS,
                                          GAP_FACTOR, PAC_THRESHOLD, QUADRANTS, RESPONSE_FRACTION, RESPONSE_SMOOTH,
                                          Response, SeriesIndices)


def consecutive_pairs(valid: np.ndarray, time_s: np.ndarray | None = None) -> np.ndarray:
    """Indices ``i`` such that frames ``i`` and ``i + 1`` are both valid and consecutive.

    Parameters
    ----------
    valid
        Boolean mask of valid frames, in sampling order.
    time_s
        Sample times; when given, pairs more than ``GAP_FACTOR`` median steps apart are dropped.
    """
    valid = np.asarray(valid, dtype=bool)
    if valid.size < 2:
        return np.empty(0, dtype=np.int64)
    ok = valid[:-1] & valid[1:]
    if time_s is not None and len(time_s) >= 2:
        dt = np.diff(np.asarray(time_s, dtype=np.float64))
        step = float(np.median(dt)) if dt.size else 0.0
        if step > 0:
            ok &= dt <= GAP_FACTOR * step
    return np.flatnonzero(ok)


def pooled_indices(
    pieces: Iterable[tuple[np.ndarray, np.ndarray]], *, pac_threshold: float = PAC_THRESHOLD
) -> SeriesIndices:
    """Indices of several pieces of series pooled together (e.g. all "sad" segments).

    Parameters
    ----------
    pieces
        ``(values, pair_index)`` per piece: values with NaN at invalid frames and the pair
        indices from :func:`consecutive_pairs`. Differences never cross piece borders.
    pac_threshold
        Cut-off for the probability of acute change.

    Notes
    -----
    SD uses ``ddof=1``. MSSD is the mean of squared successive differences; PAC the fraction
    of them with magnitude above ``pac_threshold``. Inertia is the lag-1 autocorrelation
    ``(Σ (x_i − m_p)(x_{i+1} − m_p) / n_pairs) / (Σ (x_j − m_p)² / n_valid)`` where ``m_p`` is
    the mean of the valid values of the *piece* (segment) the frame belongs to: with one pooled
    mean, two segments at different levels looked inert (white noise at 0.3 and 0.6: 0.89, issue
    12); gaps reduce the pairs but do not bias the estimate; clipped to [-1, 1] (the ratio can
    pass ±1 slightly when many frames have no pair). What it means here: the 0.3-s smoother of the
    VA estimators alone gives white noise a lag-1 autocorrelation of exp(-0.1 / 0.3) ≈ 0.72 at
    10 fps, so values near 0.7 say nothing about the person (docs/dynamics.md).
    """
    values: list[np.ndarray] = []
    lag_a: list[np.ndarray] = []
    lag_b: list[np.ndarray] = []
    centred: list[np.ndarray] = []
    for x, pairs in pieces:
        x = np.asarray(x, dtype=np.float64)
        fin = x[np.isfinite(x)]
        values.append(fin)
        m_p = float(fin.mean()) if fin.size else 0.0
        centred.append(fin - m_p)
        lag_a.append(x[pairs] - m_p)
        lag_b.append(x[pairs + 1] - m_p)
    v = np.concatenate(values) if values else np.empty(0)
    a = np.concatenate(lag_a) if lag_a else np.empty(0)
    b = np.concatenate(lag_b) if lag_b else np.empty(0)
    n, n_pairs = int(v.size), int(a.size)
    nan = float("nan")
    mean = float(v.mean()) if n else nan
    sd = float(v.std(ddof=1)) if n >= 2 else nan
    rng = float(v.max() - v.min()) if n else nan
    if n_pairs:
        d = b - a
        mssd = float(np.mean(d * d))
        pac = float(np.mean(np.abs(d) > pac_threshold))
        c = np.concatenate(centred)
        var = float(np.mean(c * c))
        inertia = float(np.clip(np.mean(a * b) / var, -1.0, 1.0)) if var > 0 else nan
    else:
        mssd = pac = inertia = nan
    return SeriesIndices(n, n_pairs, mean, sd, mssd, pac, inertia, rng)


def series_indices(
    x: np.ndarray, valid: np.ndarray | None = None, time_s: np.ndarray | None = None,
    *, pac_threshold: float = PAC_THRESHOLD,
) -> SeriesIndices:
    """:func:`pooled_indices` of a single series (``valid`` defaults to finite values)."""
    x = np.asarray(x, dtype=np.float64)
    ok = np.isfinite(x) if valid is None else (np.asarray(valid, dtype=bool) & np.isfinite(x))
    masked = np.where(ok, x, np.nan)
    return pooled_indices([(masked, consecutive_pairs(ok, time_s))], pac_threshold=pac_threshold)


def quadrant_fractions(valence: np.ndarray, arousal: np.ndarray, valid: np.ndarray) -> dict[str, float]:
    """Fraction of valid frames in each valence/arousal quadrant, and near the centre.

    Frames within :data:`CENTRE_RADIUS` of (0, 0) count as ``"centre"``; elsewhere 0 counts as positive.
    """
    v, a = np.asarray(valence, np.float64), np.asarray(arousal, np.float64)
    ok = np.asarray(valid, bool) & np.isfinite(v) & np.isfinite(a)
    n = int(ok.sum())
    if n == 0:
        return {q: float("nan") for q in QUADRANTS}
    vv, aa = v[ok], a[ok]
    centre = np.hypot(vv, aa) < CENTRE_RADIUS
    vp, ap, out = vv >= 0, aa >= 0, ~centre
    counts = [(vp & ap & out).sum(), (~vp & ap & out).sum(), (~vp & ~ap & out).sum(), (vp & ~ap & out).sum(),
              centre.sum()]
    return {q: float(c) / n for q, c in zip(QUADRANTS, counts)}


def response(time_s: np.ndarray, x: np.ndarray, valid: np.ndarray, start_s: float, end_s: float) -> Response:
    """Amplitude and latency of the reaction of ``x`` to a segment starting at ``start_s``.

    The baseline is the mean of the valid frames in ``[start − 2 s, start)`` (at least
    ``BASELINE_MIN_FRAMES``), else of the first second of the segment. The series inside the
    segment is smoothed by a centred moving mean over ``RESPONSE_SMOOTH`` samples (invalid
    frames ignored); the amplitude is the signed largest deviation from the baseline and the
    latency the time from ``start_s`` to the first smoothed sample that reaches
    ``RESPONSE_FRACTION`` of it in the same direction.
    """
    t = np.asarray(time_s, np.float64)
    xv = np.where(np.asarray(valid, bool) & np.isfinite(x), np.asarray(x, np.float64), np.nan)
    nan = float("nan")
    before = xv[(t >= start_s - BASELINE_WINDOW_S) & (t < start_s)]
    before = before[np.isfinite(before)]
    if before.size >= BASELINE_MIN_FRAMES:
        baseline, source = float(before.mean()), "before"
    else:
        first = xv[(t >= start_s) & (t < min(end_s, start_s + BASELINE_FALLBACK_S))]
        first = first[np.isfinite(first)]
        if first.size == 0:
            return Response(nan, "none", nan, nan)
        baseline, source = float(first.mean()), "start"
    inside = (t >= start_s) & (t < end_s)
    seg_t, seg_x = t[inside], xv[inside]
    smooth = _nan_moving_mean(seg_x, RESPONSE_SMOOTH)
    dev = smooth - baseline
    if not np.isfinite(dev).any():
        return Response(baseline, source, nan, nan)
    k = int(np.nanargmax(np.abs(dev)))
    amplitude = float(dev[k])
    reached = np.flatnonzero(np.isfinite(dev) & (dev * np.sign(amplitude) >= RESPONSE_FRACTION * abs(amplitude)))
    latency = float(seg_t[reached[0]] - start_s) if reached.size and amplitude != 0 else nan
    return Response(baseline, source, amplitude, latency)


def _nan_moving_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving mean ignoring NaN; NaN where the window holds no finite value."""
    if x.size == 0:
        return x.copy()
    finite = np.isfinite(x)
    # np.convolve(mode="same") returns max(len(x), len(kernel)) values: never let the window outgrow
    # the series (a segment of a few frames).
    kernel = np.ones(max(1, min(width, x.size)))
    sums = np.convolve(np.where(finite, x, 0.0), kernel, mode="same")
    counts = np.convolve(finite.astype(np.float64), kernel, mode="same")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
