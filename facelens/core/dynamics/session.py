"""Dynamics of a whole session: segments -> per-segment and per-label statistics (``compute_dynamics``),
and the wrapper that reads a results file (``session_dynamics``)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from facelens.core.annotation import exclusions
from facelens.core.annotation.segments import DEFAULT_LABELS, Segment
from facelens.core.dynamics.types import (BASELINE_WINDOW_S, GAP_FACTOR, PAC_THRESHOLD, RESPONSE_FRACTION, LabelStats,
                                          SegmentDynamics, SessionDynamics)
from facelens.core.dynamics.indices import (consecutive_pairs, pooled_indices, quadrant_fractions, response,
                                            series_indices)

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.results import SessionResults


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
        Annotated segments; labels other than happy/sad/neutral are reported too. Exclusions
        (:mod:`facelens.core.annotation.exclusions`) are no label: their frames count as unusable.
    expressions, expression_names
        Optional ``(N, K)`` expression measures; each gets mean, SD and MSSD per segment.
    """
    t = np.asarray(time_s, np.float64)
    v, a = np.asarray(valence, np.float64), np.asarray(arousal, np.float64)
    use = np.asarray(usable, bool)
    if not (t.shape == v.shape == a.shape == use.shape):
        raise ValueError("time_s, valence, arousal and usable must have the same length")
    use, kept = exclusions.apply(t, use, segments)  # a reviewer's exclusions: unusable frames, no label
    seg_list = sorted(kept, key=lambda s: (s.start_s, s.end_s))
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
