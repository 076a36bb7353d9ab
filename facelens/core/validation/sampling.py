"""Sampled frames of a recording, as the pipeline samples them, with the harness's timing variants.

:func:`sample_clip` uses the pipeline's own sampler (``MediaSource.iter_sampled``: the frame shown at
each sampling instant ``k / fps``). The phase-offset variant samples at twice the rate and keeps
the odd frames, i.e. the instants ``(k + 1/2) / fps``: the same recording, the same frame rate,
a different choice of frames. Clips are cut to ``max_seconds`` to keep the harness's CPU cost down.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from facelens.core.media.video import open_media


@dataclass
class SampledClip:
    """RGB frames (uint8) and their presentation times (s) of one sampling of a recording."""

    name: str
    frames: list[np.ndarray]
    time_s: np.ndarray
    fps: float
    phase: float


def sample_clip(path: str | os.PathLike[str], fps: float = 10.0, phase: float = 0.0,
                max_seconds: float | None = None, name: str | None = None) -> SampledClip:
    """Frames of ``path`` at ``fps`` (``phase`` 0 or 0.5 of a step), up to ``max_seconds``.

    Raises
    ------
    ValueError
        For a phase other than 0 or 0.5.
    facelens.core.media.video.VideoError
        For an unreadable recording.
    """
    if phase not in (0.0, 0.5):
        raise ValueError("phase must be 0 or 0.5 of a sampling step")
    rate = fps * (2 if phase else 1)
    frames: list[np.ndarray] = []
    times: list[float] = []
    with open_media(path) as session:
        for f in session.iter_sampled(rate):
            if max_seconds is not None and f.time_s >= max_seconds:
                break
            if phase and f.index % 2 == 0:
                continue
            frames.append(f.rgb)
            times.append(f.time_s)
    label = name or os.path.splitext(os.path.basename(os.fspath(path)))[0]
    return SampledClip(label, frames, np.asarray(times, np.float64), fps, phase)
