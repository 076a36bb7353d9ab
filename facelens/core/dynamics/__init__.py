"""Affective dynamics of a session: per-segment valence/arousal statistics and indices.

Everything here is a pure computation on arrays (``time_s``, ``valence``, ``arousal``,
``usable``, ``expressions``) so that it can be checked on hand-computed examples;
:func:`session_dynamics` is the thin wrapper that takes a ``SessionResults`` and segments.
The definitions and their sources are in ``docs/dynamics.md``.

A frame is *valid* for a series when it is usable (``core.types.is_usable``) and its value
is finite. Successive differences and lag-1 pairs are formed only between *consecutive*
valid frames: neighbours in the sampled sequence, both valid, at most ``GAP_FACTOR`` median
sampling steps apart. A discarded frame therefore breaks the chain instead of silently
bridging two distant samples (Jahng, Wood & Trull 2008 on unequal intervals).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from facelens.core.annotation.segments import DEFAULT_LABELS, Segment

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.results import SessionResults

#: |successive difference| above which a change counts as "acute" (VA units, range [-1, 1]).
#: Jahng et al. (2008) leave the cut-off to the researcher; 0.2 (a tenth of the VA range within
#: one 0.1-s step at 10 fps) is a FaceLens convention, see docs/dynamics.md.
PAC_THRESHOLD = 0.2
#: Two valid samples further apart than this many median steps are not "consecutive".
GAP_FACTOR = 1.5
#: Response baseline: valid frames in this window before the segment start ...
BASELINE_WINDOW_S = 2.0
#: ... at least this many of them, otherwise the first BASELINE_FALLBACK_S of the segment.
BASELINE_MIN_FRAMES = 5
BASELINE_FALLBACK_S = 1.0
#: Centred moving-mean window (samples) used to find the response peak (0.5 s at 10 fps).
RESPONSE_SMOOTH = 5
#: Latency = time to reach this fraction of the response amplitude.
RESPONSE_FRACTION = 0.5

QUADRANTS = ("V+A+", "V-A+", "V-A-", "V+A-", "centre")
#: Frames closer than this to (0, 0) on the valence/arousal plane count as "centre", not as a quadrant:
#: a still, neutral face measures a little above or below zero and would otherwise fill an arbitrary
#: quadrant. A FaceLens convention (0.1 = 5 % of the scale's width), not a published threshold.
CENTRE_RADIUS = 0.1


@dataclass
class SeriesIndices:
    """Variability, instability and inertia of one series (NaN where undefined)."""

    n_valid: int
    n_pairs: int
    mean: float
    sd: float
    mssd: float
    pac: float
    inertia: float
    range: float


@dataclass
class Response:
    """Reaction of a series to a segment's start (see docs/dynamics.md)."""

    baseline: float
    baseline_source: str  # "before" (window before the start), "start" (first second) or "none"
    amplitude: float  # signed peak deviation of the smoothed series from the baseline
    latency_s: float  # segment start -> first reaching RESPONSE_FRACTION of the amplitude


@dataclass
class SegmentDynamics:
    """Indices of one annotated segment."""

    segment_id: str
    label: str
    start_s: float
    end_s: float
    n_frames: int
    valence: SeriesIndices
    arousal: SeriesIndices
    quadrants: dict[str, float]
    valence_response: Response
    arousal_response: Response
    expressions: dict[str, dict[str, float]] = field(default_factory=dict)  # name -> mean/sd/mssd


@dataclass
class LabelStats:
    """Frame-level valence/arousal of all segments with one label (the paper's mean ± SD)."""

    label: str
    n_segments: int
    n_frames: int
    n_valid: int
    valence: SeriesIndices
    arousal: SeriesIndices


@dataclass
class SessionDynamics:
    """Everything :func:`compute_dynamics` finds in one session."""

    by_label: dict[str, LabelStats]
    segments: list[SegmentDynamics]
    session_valence: SeriesIndices
    session_arousal: SeriesIndices
    session_quadrants: dict[str, float]
    valence_contrast: float  # happy mean valence - sad mean valence (NaN if either is missing)
    params: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dictionary (NaN becomes ``None``)."""
        return jsonable(asdict(self))


def jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


# -- building blocks ---------------------------------------------------------------------------
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


def segment_mask(time_s: np.ndarray, segments: Sequence[Segment]) -> np.ndarray:
    """Frames whose time lies in any of ``segments`` (``start ≤ t < end``)."""
    t = np.asarray(time_s, np.float64)
    mask = np.zeros(t.shape, bool)
    for s in segments:
        mask |= (t >= s.start_s) & (t < s.end_s)
    return mask


def label_pieces(
    time_s: np.ndarray, x: np.ndarray, usable: np.ndarray, segments: Sequence[Segment]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """One ``(values, pairs)`` piece per segment, ready for :func:`pooled_indices`."""
    t = np.asarray(time_s, np.float64)
    xx = np.asarray(x, np.float64)
    ok_all = np.asarray(usable, bool) & np.isfinite(xx)
    pieces = []
    for s in segments:
        inside = (t >= s.start_s) & (t < s.end_s)
        ok = ok_all[inside]
        pieces.append((np.where(ok, xx[inside], np.nan), consecutive_pairs(ok, t[inside])))
    return pieces


# -- a whole session -----------------------------------------------------------------------
def compute_dynamics(
    time_s: np.ndarray,
    valence: np.ndarray,
    arousal: np.ndarray,
    usable: np.ndarray,
    segments: Sequence[Segment],
    expressions: np.ndarray | None = None,
    expression_names: Sequence[str] = (),
    *,
    pac_threshold: float = PAC_THRESHOLD,
) -> SessionDynamics:
    """Per-label statistics, per-segment indices and whole-session indices.

    Parameters
    ----------
    time_s, valence, arousal, usable
        Per sampled frame, shape ``(N,)``; valence/arousal NaN where not estimated.
    segments
        Annotated segments; labels other than happy/sad/neutral are reported too.
    expressions, expression_names
        Optional ``(N, K)`` expression measures; each gets mean, SD and MSSD per segment.
    """
    t = np.asarray(time_s, np.float64)
    v, a = np.asarray(valence, np.float64), np.asarray(arousal, np.float64)
    use = np.asarray(usable, bool)
    if not (t.shape == v.shape == a.shape == use.shape):
        raise ValueError("time_s, valence, arousal and usable must have the same length")
    seg_list = sorted(segments, key=lambda s: (s.start_s, s.end_s))
    labels = list(DEFAULT_LABELS) + sorted({s.label for s in seg_list} - set(DEFAULT_LABELS))
    by_label: dict[str, LabelStats] = {}
    for label in labels:
        segs = [s for s in seg_list if s.label == label]
        in_label = segment_mask(t, segs)
        vi = pooled_indices(label_pieces(t, v, use, segs), pac_threshold=pac_threshold)
        ai = pooled_indices(label_pieces(t, a, use, segs), pac_threshold=pac_threshold)
        n_valid = int((in_label & use & np.isfinite(v) & np.isfinite(a)).sum())
        by_label[label] = LabelStats(label, len(segs), int(in_label.sum()), n_valid, vi, ai)

    per_segment = []
    for s in seg_list:
        inside = (t >= s.start_s) & (t < s.end_s)
        ti, ui = t[inside], use[inside]
        expr: dict[str, dict[str, float]] = {}
        if expressions is not None and len(expression_names):
            e = np.asarray(expressions, np.float64)[inside]
            for k, name in enumerate(expression_names):
                idx = series_indices(e[:, k], ui, ti, pac_threshold=pac_threshold)
                expr[str(name)] = {"mean": idx.mean, "sd": idx.sd, "mssd": idx.mssd}
        per_segment.append(SegmentDynamics(
            segment_id=s.id, label=s.label, start_s=s.start_s, end_s=s.end_s, n_frames=int(inside.sum()),
            valence=series_indices(v[inside], ui, ti, pac_threshold=pac_threshold),
            arousal=series_indices(a[inside], ui, ti, pac_threshold=pac_threshold),
            quadrants=quadrant_fractions(v[inside], a[inside], ui),
            valence_response=response(t, v, use, s.start_s, s.end_s),
            arousal_response=response(t, a, use, s.start_s, s.end_s),
            expressions=expr,
        ))
    contrast = by_label["happy"].valence.mean - by_label["sad"].valence.mean
    return SessionDynamics(
        by_label=by_label,
        segments=per_segment,
        session_valence=series_indices(v, use, t, pac_threshold=pac_threshold),
        session_arousal=series_indices(a, use, t, pac_threshold=pac_threshold),
        session_quadrants=quadrant_fractions(v, a, use),
        valence_contrast=float(contrast),
        params={"pac_threshold": pac_threshold, "gap_factor": GAP_FACTOR,
                "baseline_window_s": BASELINE_WINDOW_S, "response_fraction": RESPONSE_FRACTION},
    )


def session_dynamics(
    results: SessionResults, segments: Sequence[Segment], *, pac_threshold: float = PAC_THRESHOLD
) -> SessionDynamics:
    """:func:`compute_dynamics` on an opened results file."""
    return compute_dynamics(
        results.time_s, results.valence, results.arousal, results.usable, segments,
        results.expressions, results.expression_names, pac_threshold=pac_threshold,
    )


def check_segments_in_results(res: SessionResults, segments: Sequence[Segment]) -> None:
    """``SegmentError`` when a segment ends after the analysed recording (see ``check_within_recording``)."""
    from facelens.core.annotation.segments import check_within_recording

    t = np.asarray(res.time_s, np.float64)
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.1
    duration = res.duration_s
    if not np.isfinite(duration):
        duration = float(t[-1]) + step if t.size else float("nan")
    check_within_recording(segments, duration, step)
