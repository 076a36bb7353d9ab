"""Rules of segment annotation that the GUI applies before a change is saved (Qt-free).

Public API
----------
``overlap_conflicts(segments, start_s, end_s, label, exclude_id=None)``
    The segments of *another* label that a span would overlap.
``conflicting_ids(segments)``     ids of every segment in such an overlap (for the ⚠ flag).
``check_overlap(rule, segments, start_s, end_s, label, exclude_id=None)``
    '' when the change may be made under the label set's rule ("refuse", "flag", "allow"),
    otherwise the one-line reason it is refused.
``snap_to_frame(t, times)``       the sampled-frame time nearest to ``t`` (typed times land on frames).
``describe(segment)``             "sad 0.0–9.0 s".
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from facelens.core.annotation.exclusions import EXCLUDE_LABEL, is_exclusion
from facelens.core.common.timeaxis import nearest_frame


def describe(seg: Any) -> str:
    return f"{seg.label} {seg.start_s:.1f}–{seg.end_s:.1f} s"


def overlap_conflicts(segments: Iterable[Any], start_s: float, end_s: float, label: str,
                      exclude_id: str | None = None) -> list[Any]:
    """Segments with a different label whose span intersects [start_s, end_s) (touching is fine).
    A reviewer's exclusion (:mod:`facelens.core.annotation.exclusions`) overlaps any label freely."""
    if str(label).strip().lower() == EXCLUDE_LABEL:
        return []
    return [s for s in segments
            if s.id != exclude_id and s.label != label and not is_exclusion(s)
            and s.start_s < end_s and start_s < s.end_s]


def conflicting_ids(segments: Sequence[Any]) -> set[str]:
    """Ids of all segments that overlap a segment of another label."""
    out: set[str] = set()
    for s in segments:
        if overlap_conflicts(segments, s.start_s, s.end_s, s.label, exclude_id=s.id):
            out.add(s.id)
    return out


def check_overlap(rule: str, segments: Sequence[Any], start_s: float, end_s: float, label: str,
                  exclude_id: str | None = None) -> str:
    """The reason a new or changed span is refused under ``rule`` ('' when it is allowed)."""
    if rule != "refuse":
        return ""
    hits = overlap_conflicts(segments, start_s, end_s, label, exclude_id)
    if not hits:
        return ""
    return (f"{label} {start_s:.1f}–{end_s:.1f} s would overlap {', '.join(describe(h) for h in hits)}; "
            "the label set does not allow segments of different labels to overlap")


def snap_to_frame(t: float, times: np.ndarray) -> float:
    """The sampled frame time nearest to ``t`` (``t`` itself when there are no frames)."""
    ts = np.asarray(times, dtype=np.float64)
    if ts.size == 0 or not np.isfinite(t):
        return float(t)
    return float(ts[nearest_frame(ts, t)])
