"""What the dynamics computations return (JSON-ready dataclasses) and the constants they use."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

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
