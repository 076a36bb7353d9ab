"""±50 % sensitivity of the shipped estimator's hand-set constants, on stored frames.

For each constant the estimator runs with the value halved and with it 1.5 times larger, on the
original sampling of every clip; reported: the largest change of a labelled segment's mean valence
or arousal against the shipped value, and the mean frame-wise |corr(V, A)|. Estimator fields are
passed as parameters; the fusion module's constants (read at call time) are set for the duration of
the run and restored. ``BETA`` is bound as a default argument of ``fuse`` and is not varied here.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from facelens.core.validation import estimators
from facelens.core.validation.reliability import Series, abs_corr_va

FIELDS = {"emotion_weight": 0.7, "tau_s": 0.3, "baseline_tau_s": 120.0}
FUSION = ("Z_FULL", "CONTRA", "NEUTRAL_MARGIN")


@contextmanager
def _fusion_constant(name: str, value: float) -> Iterator[None]:
    from facelens.core.affect import fusion

    old = getattr(fusion, name)
    setattr(fusion, name, value)
    try:
        yield
    finally:
        setattr(fusion, name, old)


def _measure(runs: Sequence[Any], **params: Any) -> tuple[list[np.ndarray], float]:
    fn = estimators.get("circumplex", **params)
    means, corrs = [], []
    for r in runs:
        v, a, _ = fn(r.base)
        s = Series(r.base.time_s, np.asarray(v, float), np.asarray(a, float))
        means.append(s.segment_means([(x, y) for x, y, lab in r.spans() if lab != "window"]))
        corrs.append(abs_corr_va(s))
    return means, float(np.nanmean(corrs)) if corrs else float("nan")


def _shift(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    d = [np.abs(x - y) for x, y in zip(a, b) if x.size]
    vals = np.concatenate([x.ravel() for x in d]) if d else np.empty(0)
    return float(np.nanmax(vals)) if np.isfinite(vals).any() else float("nan")


def sensitivity(runs: Sequence[Any]) -> list[dict[str, Any]]:
    """One row per constant: name, shipped value, shift at -50 % / +50 %, mean |corr(V, A)| at each."""
    from facelens.core.affect import fusion

    ref, _ = _measure(runs)
    rows = []
    for name, value in FIELDS.items():
        lo, c_lo = _measure(runs, **{name: value * 0.5})
        hi, c_hi = _measure(runs, **{name: min(value * 1.5, 1.0) if name == "emotion_weight" else value * 1.5})
        rows.append({"name": f"CircumplexVA.{name}", "value": value, "shift": (_shift(lo, ref), _shift(hi, ref)),
                     "corr": (c_lo, c_hi)})
    for name in FUSION:
        value = float(getattr(fusion, name))
        out = []
        for k in (0.5, 1.5):
            with _fusion_constant(name, value * k):
                out.append(_measure(runs))
        rows.append({"name": f"fusion.{name}", "value": value, "shift": (_shift(out[0][0], ref), _shift(out[1][0], ref)),
                     "corr": (out[0][1], out[1][1])})
    return rows
