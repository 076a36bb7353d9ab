"""±50 % sensitivity of hand-set constants, on stored frames.

For each constant the estimator runs with the value halved and with it 1.5 times larger, on the
original sampling of every clip; reported: the largest change of a labelled segment's mean valence
or arousal against the shipped value, and the mean frame-wise |corr(V, A)|.

* :func:`sensitivity`: the circumplex estimator's constants. Its fields are passed as parameters;
  the fusion module's constants (read at call time) are set for the duration of the run and
  restored. ``BETA`` is bound as a default argument of ``fuse`` and is not varied here.
* :func:`pipeline_sensitivity`: what the default pipeline (G) depends on besides its trained
  weights: the quality gates (occlusion-test confidence, blur, head-pose limits; re-applied to the
  stored frames by :func:`~facelens.core.validation.gates.regate`) and G's restart after a pause
  (``g_session.GAP_S``). The FER2013 crop's illumination constants are medians of the training
  crops, not hand-set, and would need the appearance model run again: not varied here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from facelens.core.validation import estimators
from facelens.core.validation.reliability import Series, abs_corr_va

FIELDS = {"emotion_weight": 0.7, "tau_s": 0.3, "baseline_tau_s": 120.0}
FUSION = ("Z_FULL", "CONTRA", "NEUTRAL_MARGIN")


@contextmanager
def _module_constant(module: Any, name: str, value: float) -> Iterator[None]:
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def _measure(runs: Sequence[Any], estimator: str = "circumplex", prepare: Callable[[Any], Any] | None = None,
             params: dict[str, Any] | None = None) -> tuple[list[np.ndarray], float]:
    fn = estimators.get(estimator, **(params or {}))
    means, corrs = [], []
    for r in runs:
        d = prepare(r.base) if prepare is not None else r.base
        v, a, _ = fn(d)
        s = Series(d.time_s, np.asarray(v, float), np.asarray(a, float))
        means.append(s.segment_means([(x, y) for x, y, lab in r.spans() if lab != "window"]))
        corrs.append(abs_corr_va(s))
    return means, float(np.nanmean(corrs)) if corrs else float("nan")


def _shift(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    d = [np.abs(x - y) for x, y in zip(a, b) if x.size]
    vals = np.concatenate([x.ravel() for x in d]) if d else np.empty(0)
    return float(np.nanmax(vals)) if np.isfinite(vals).any() else float("nan")


def _row(name: str, value: float, ref: list[np.ndarray], out: list[tuple[list[np.ndarray], float]]
         ) -> dict[str, Any]:
    """One table row from the (segment means, mean |corr|) measured at -50 % and +50 %."""
    return {"name": name, "value": value, "shift": (_shift(out[0][0], ref), _shift(out[1][0], ref)),
            "corr": (out[0][1], out[1][1])}


def sensitivity(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per constant: name, shipped value, shift at -50 % / +50 %, mean |corr(V, A)| at each."""
    from facelens.core.affect import fusion

    ref, _ = _measure(runs)
    rows = []
    for name, value in FIELDS.items():
        hi = min(value * 1.5, 1.0) if name == "emotion_weight" else value * 1.5
        rows.append(_row(f"CircumplexVA.{name}", value, ref, [_measure(runs, params={name: x}) for x in (value * 0.5, hi)]))
    for name in FUSION:
        value = float(getattr(fusion, name))
        out = []
        for k in (0.5, 1.5):
            with _module_constant(fusion, name, value * k):
                out.append(_measure(runs))
        rows.append(_row(f"fusion.{name}", value, ref, out))
    return rows


def pipeline_sensitivity(runs: Sequence[Any], estimator: str = "g") -> list[dict[str, Any]]:
    """One row per constant of the gates and of G's session rule (see the module docstring)."""
    from facelens.core.affect import g_session
    from facelens.core.face.geometry import MAX_PITCH_DEG, MAX_YAW_DEG
    from facelens.core.face.tracking.quality import DEFAULT_BLUR_THRESHOLD, DEFAULT_MIN_CONFIDENCE
    from facelens.core.validation.gates import regate

    ref, _ = _measure(runs, estimator)
    gates = {"tracking.min_confidence (= disagreement_at_half at +50 / -50 %)": ("min_confidence", DEFAULT_MIN_CONFIDENCE),
             "tracking.blur_threshold": ("blur_threshold", DEFAULT_BLUR_THRESHOLD),
             "geometry.MAX_YAW_DEG": ("max_yaw_deg", MAX_YAW_DEG), "geometry.MAX_PITCH_DEG": ("max_pitch_deg", MAX_PITCH_DEG)}
    rows = []
    for label, (arg, value) in gates.items():
        def gated(k: float, arg: str = arg, value: float = value) -> Callable[[Any], Any]:
            return lambda d: regate(d, **{arg: value * k})

        rows.append(_row(label, float(value), ref, [_measure(runs, estimator, gated(k)) for k in (0.5, 1.5)]))
    value = float(g_session.GAP_S)
    out = []
    for k in (0.5, 1.5):
        with _module_constant(g_session, "GAP_S", value * k):
            out.append(_measure(runs, estimator))
    rows.append(_row("g_session.GAP_S", value, ref, out))
    return rows
