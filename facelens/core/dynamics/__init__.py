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

from facelens.core.dynamics.types import (
    BASELINE_FALLBACK_S,
    BASELINE_MIN_FRAMES,
    BASELINE_WINDOW_S,
    CENTRE_RADIUS,
    GAP_FACTOR,
    LabelStats,
    PAC_THRESHOLD,
    QUADRANTS,
    RESPONSE_FRACTION,
    RESPONSE_SMOOTH,
    Response,
    SegmentDynamics,
    SeriesIndices,
    SessionDynamics,
    jsonable,
)
from facelens.core.dynamics.indices import (
    consecutive_pairs,
    pooled_indices,
    quadrant_fractions,
    response,
    series_indices,
)
from facelens.core.dynamics.session import (
    check_segments_in_results,
    compute_dynamics,
    label_pieces,
    segment_mask,
    session_dynamics,
)

__all__ = [
    "BASELINE_FALLBACK_S",
    "BASELINE_MIN_FRAMES",
    "BASELINE_WINDOW_S",
    "CENTRE_RADIUS",
    "GAP_FACTOR",
    "LabelStats",
    "PAC_THRESHOLD",
    "QUADRANTS",
    "RESPONSE_FRACTION",
    "RESPONSE_SMOOTH",
    "Response",
    "SegmentDynamics",
    "SeriesIndices",
    "SessionDynamics",
    "check_segments_in_results",
    "compute_dynamics",
    "consecutive_pairs",
    "jsonable",
    "label_pieces",
    "pooled_indices",
    "quadrant_fractions",
    "response",
    "segment_mask",
    "series_indices",
    "session_dynamics",
]
