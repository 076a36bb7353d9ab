"""Subject features and P(BD) of the clips with happy and sad spans, per nuisance variant.

Each clip with both labels is treated as one subject (its spans as segments). For the original and
every variant the features (:mod:`facelens.core.diagnosis.features`) and the reference model's
answer (a probability, or a refusal with its reasons) are recorded, and the largest shift of each
feature in training-SD units. :func:`nuisance_probabilities` gives the model's raw probability
under each variant, which :func:`facelens.core.diagnosis.model.predict_subject` uses to refuse
unstable answers.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from facelens.core.validation.estimators import EstimateFn
from facelens.core.validation.runner import FrameData


def _series(d: FrameData, fn: EstimateFn, spans: Sequence[tuple[float, float, str]]) -> Any:
    from facelens.core.annotation.segments import Segment
    from facelens.core.diagnosis.features import SessionSeries

    v, a, _ = fn(d)
    segs = [Segment(s, e, lab) for s, e, lab in spans]
    return SessionSeries(d.time_s, np.asarray(v, float), np.asarray(a, float), d.usable, segs)


def subject_checks(runs: Sequence[Any], fn: EstimateFn, variants: Sequence[str]) -> dict[str, Any]:
    """Per happy+sad clip: features, raw P(BD) and the model's answer for the original and each variant."""
    from facelens.core.diagnosis.features import subject_features
    from facelens.core.diagnosis.guard import standardised
    from facelens.core.diagnosis.model import Refusal, load_model, predict_subject

    model = load_model(None)
    out: dict[str, Any] = {}
    for r in runs:
        spans = [s for s in r.spec.spans if s[2] in ("happy", "sad")]
        if {s[2] for s in spans} != {"happy", "sad"}:
            continue
        rows: dict[str, Any] = {}
        z0 = None
        for name, d in [("original", r.base), *[(v, r.variants[v]) for v in variants if v in r.variants]]:
            ses = _series(d, fn, spans)
            feats = subject_features([ses])
            x = feats.vector(model.feature_names)
            answer = predict_subject(model, [ses])
            z = standardised(model.card, model.feature_names, x)
            z0 = z if z0 is None else z0
            rows[name] = {"p_raw": float(model.predict_proba(x)[0]),
                          "answer": answer.reason if isinstance(answer, Refusal) else f"P(BD) {answer.probability_bd:.3f}",
                          "refused": isinstance(answer, Refusal),
                          "features": {n: float(v) for n, v in zip(model.feature_names, x)},
                          "shift_sd": {n: float(abs(zi - z0i)) for n, zi, z0i in zip(model.feature_names, z, z0)}}
        ps = [row["p_raw"] for row in rows.values()]
        out[r.spec.name] = {"variants": rows, "p_raw_max_shift": float(np.max(np.abs(np.array(ps) - ps[0])))}
    return out
