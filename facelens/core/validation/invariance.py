"""Invariance checks: segment order and head pose, on stored :class:`FrameData` (no re-tracking).

* **Segment order.** The frames of a clip's labelled spans are laid end to end in every order
  (``REST_S`` between spans) and the estimator runs on each arrangement; the order effect
  is the largest change of any span's mean valence/arousal against the original order laid out the
  same way. A person's face does not depend on what the protocol showed first, so an estimator
  whose baseline carries one segment into the next fails here.
* **Head pose.** Each measured mesh is turned rigidly by a yaw/pitch grid about its centroid, the
  expression measures are recomputed (the pipeline's pose normalisation) and the estimator runs
  again; the appearance posterior is kept (the image is not re-rendered), so this checks the
  geometric path's pose normalisation, not the landmark model under a real head turn.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from facelens.core.validation.estimators import EstimateFn
from facelens.core.validation.reliability import Series
from facelens.core.validation.runner import FrameData

#: Rest between re-arranged spans (as a protocol's pause between segments): longer than the
#: estimator's 1-s smoothing gap, so the smoother restarts and only the baseline can carry over.
REST_S = 2.0
POSE_GRID = tuple((y, p) for y in (-30.0, -15.0, 15.0, 30.0) for p in (-20.0, 0.0, 20.0))


def arrange(d: FrameData, spans: Sequence[tuple[float, float, str]], order: Sequence[int]
            ) -> tuple[FrameData, list[tuple[float, float, str]]]:
    """Frames of ``spans`` in ``order``, re-timed end to end; the spans' new positions (original order)."""
    step = float(np.median(np.diff(d.time_s))) if d.time_s.size > 1 else 0.1
    idx, times, new = [], [], {}
    t = 0.0
    for k in order:
        a, b, lab = spans[k]
        sel = np.flatnonzero((d.time_s >= a) & (d.time_s < b))
        if sel.size == 0:
            continue
        rel = d.time_s[sel] - d.time_s[sel[0]]
        idx.append(sel)
        times.append(t + rel)
        new[k] = (t, t + rel[-1] + step * 0.5, lab)
        t = t + rel[-1] + REST_S
    if not idx:
        return d.take(np.empty(0, np.int64)), []
    out = d.take(np.concatenate(idx), np.concatenate(times))
    return out, [new[k] for k in range(len(spans)) if k in new]


def order_effect(d: FrameData, spans: Sequence[tuple[float, float, str]], estimate: EstimateFn) -> dict[str, float]:
    """Largest change of a span mean (V and A) over all orders of ``spans`` (at most 6 orders used)."""
    if len(spans) < 2:
        return {"valence": float("nan"), "arousal": float("nan"), "n_orders": 0}
    orders = list(itertools.permutations(range(len(spans))))[:6]
    ref = None
    worst = np.zeros(2)
    for order in orders:
        arranged, new_spans = arrange(d, spans, order)
        v, a, _ = estimate(arranged)
        means = Series(arranged.time_s, v, a).segment_means([(s, e) for s, e, _ in new_spans])
        if ref is None:
            ref = means
            continue
        if means.shape == ref.shape:
            diff = np.abs(means - ref)
            if np.isfinite(diff).any():
                worst = np.maximum(worst, np.nanmax(diff, axis=0))
    return {"valence": float(worst[0]), "arousal": float(worst[1]), "n_orders": len(orders)}


def _rotation(yaw: float, pitch: float) -> np.ndarray:
    y, p = np.radians(yaw), np.radians(pitch)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rx @ ry


def rotated(d: FrameData, yaw: float, pitch: float) -> FrameData:
    """``d`` with every mesh turned by (yaw, pitch) degrees and its expression measures recomputed."""
    from facelens.core.face import geometry

    lm = d.landmarks.astype(np.float64)
    centre = np.nanmean(lm, axis=1, keepdims=True)
    turned = (lm - centre) @ _rotation(yaw, pitch).T + centre
    pose = geometry.head_pose_batch(turned)
    expr = geometry.expression_measures_batch(turned, pose)
    return FrameData(d.time_s, d.quality, expr, d.fer, pose["euler"].astype(np.float32), turned.astype(np.float32))


def pose_effect(d: FrameData, spans: Sequence[tuple[float, float]], estimate: EstimateFn,
                grid: Sequence[tuple[float, float]] = POSE_GRID) -> dict[str, float]:
    """Largest change of a span mean (V and A) over the yaw/pitch ``grid``."""
    v0, a0, _ = estimate(d)
    ref = Series(d.time_s, v0, a0).segment_means(spans)
    worst = np.zeros(2)
    for yaw, pitch in grid:
        v, a, _ = estimate(rotated(d, yaw, pitch))
        diff = np.abs(Series(d.time_s, v, a).segment_means(spans) - ref)
        if np.isfinite(diff).any():
            worst = np.maximum(worst, np.nanmax(diff, axis=0))
    return {"valence": float(worst[0]), "arousal": float(worst[1]), "n_poses": len(grid)}
