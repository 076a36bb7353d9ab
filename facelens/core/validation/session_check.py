"""The nuisance model for one session: its BD-vs-MDD probability under the harness's perturbations.

:func:`nuisance_probabilities` re-tracks the session's recording under a few perturbations (by
default the most damaging families of the full harness: a light from below, gamma 0.7 and heavy
compression) and returns the model's probability for the unperturbed recording and for each variant,
all through the same harness path (so the shift measures the nuisance, not a difference between the
harness and the stored analysis); :func:`facelens.core.diagnosis.model.predict_subject` turns a shift
above 0.1 into a refusal. Only the first ``MAX_SECONDS`` of the recording are re-analysed (the frames
are held in memory). Cost: one tracking pass per variant (about 3 s per 20 s of recording on a busy core).
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from facelens.core.validation import estimators, perturb
from facelens.core.validation.runner import Analyser
from facelens.core.validation.sampling import SampledClip, sample_clip

SESSION_VARIANTS = ("light_from_bottom", "gamma_0.7", "half_size_crf40")
MAX_SECONDS = 60.0  # bounds the frames held in memory (60 s of 640x360 at 10 fps: 0.4 GB with one copy)


def nuisance_probabilities(video: str | os.PathLike[str], segments: Sequence[Any], model: Any,
                           fps: float = 10.0, variants: Sequence[str] = SESSION_VARIANTS,
                           estimator: str = "circumplex",
                           max_seconds: float = MAX_SECONDS) -> tuple[float, list[float]]:
    """Raw P(BD) of ``model`` for the session re-analysed as recorded, and under each of ``variants``."""
    from facelens.core.diagnosis.features import SessionSeries, subject_features

    analyser = Analyser()
    fn = estimators.get(estimator)
    base = sample_clip(video, fps, max_seconds=max_seconds)

    def probability(clip: SampledClip) -> float:
        d = analyser.track(clip)
        val, aro, _ = fn(d)
        ses = SessionSeries(d.time_s, np.asarray(val, float), np.asarray(aro, float), d.usable, list(segments))
        return float(model.predict_proba(subject_features([ses]).vector(model.feature_names))[0])

    out = []
    for name in variants:
        v = perturb.variant(name)
        if v.apply is not None:
            clip = SampledClip(base.name, v.apply(base.frames), base.time_s, fps, 0.0)
        else:
            clip = sample_clip(video, v.fps, v.phase, max_seconds=max_seconds)
        out.append(probability(clip))
    return probability(base), out
