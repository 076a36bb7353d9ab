"""Spans a reviewer excludes: the one rule by which annotated ``exclude`` segments leave the statistics.

The tracker's checks miss some bad frames (many smooth objects in front of the mouth pass the
occlusion test; docs/expressions.md, "What it misses"). A reviewer who sees one marks the span with
the reserved label :data:`EXCLUDE_LABEL`. Such a segment is not a label of its own: it may overlap
segments of any label (it usually lies inside one), and its frames count as unusable in every
statistic computed from the session (dynamics, subject features and the BD-vs-MDD prediction, the
neutral baseline, segment means), while the results file keeps them. Data quality counts them.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

EXCLUDE_LABEL = "exclude"


def is_exclusion(segment: Any) -> bool:
    """Whether a segment is a reviewer's exclusion (label :data:`EXCLUDE_LABEL`, any case)."""
    return str(segment.label).strip().lower() == EXCLUDE_LABEL


def labelled(segments: Iterable[Any]) -> list[Any]:
    """The segments that are not exclusions."""
    return [s for s in segments if not is_exclusion(s)]


def excluded_mask(time_s: np.ndarray, segments: Iterable[Any]) -> np.ndarray:
    """(N,) frames inside an exclusion (``start_s <= t < end_s``, as segments hold frames)."""
    t = np.asarray(time_s, np.float64)
    out = np.zeros(t.shape, bool)
    for s in segments:
        if is_exclusion(s):
            out |= (t >= s.start_s) & (t < s.end_s)
    return out


def apply(time_s: np.ndarray, usable: np.ndarray, segments: Sequence[Any]) -> tuple[np.ndarray, list[Any]]:
    """(usable frames outside every exclusion, the labelled segments): what statistics use."""
    return np.asarray(usable, bool) & ~excluded_mask(time_s, segments), labelled(segments)
