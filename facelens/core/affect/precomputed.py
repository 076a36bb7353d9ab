"""Emotion outputs computed ahead of the ordered valence/arousal pass (chunk-parallel analysis).

Both chunk-parallel paths (``core/chunk_threads.py`` for mediapipe, ``core/torchface/chunk_run.py``
for torch) run the emotion model where the frames are, then feed the affect stage in time order
through a shallow copy whose emotion model is a :class:`PrecomputedEmotions`: the stage's own logic
(usable mask, fusion, smoothing state) stays the one that runs in sequential analysis.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from facelens.core.common.types import FaceObservation, SampledFrame, is_usable


class PrecomputedEmotions:
    """Stands in for the emotion model during the ordered affect pass: returns what was computed."""

    def __init__(self, model: object) -> None:
        self.model_id = getattr(model, "model_id", "")

    def predict_faces(self, payload: list[Any], boxes: list[np.ndarray]) -> Any:
        if payload and isinstance(payload[0], tuple):  # (probabilities, valence/arousal) models
            return np.stack([p for p, _ in payload]), np.stack([va for _, va in payload])
        return np.stack(payload)


def _usable(o: FaceObservation) -> bool:
    """The affect stage's rule for a frame that gets an emotion (``AffectStage.process``)."""
    return bool(is_usable(np.array(o.quality))) and o.bbox is not None and bool(np.all(np.isfinite(o.bbox)))


def emotions_for_usable_faces(model: Any, frames: list[SampledFrame], obs: list[FaceObservation]) -> list[Any]:
    """The emotion model on the step's usable faces (one batch); ``None`` for the others."""
    out: list[Any] = [None] * len(frames)
    if model is None:
        return out
    idx = [i for i, o in enumerate(obs) if _usable(o)]
    if not idx:
        return out
    res = model.predict_faces([frames[i].rgb for i in idx], [np.asarray(obs[i].bbox, np.float64) for i in idx])
    for j, i in enumerate(idx):
        out[i] = (res[0][j], res[1][j]) if isinstance(res, tuple) else res[j]
    return out
