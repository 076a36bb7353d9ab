"""What the person's neutral baseline is, for display: its source and the neutral segments that disagree.

:func:`baseline_summary` is the Qt-free call the GUI and the report use. It says where a fixed
neutral anchor (:mod:`facelens.core.affect.anchor`) for this session comes from (the annotated
neutral segments when they hold at least 2 s of usable face, else a robust whole-session estimate
from the frames the stored posterior finds most neutral) and lists the annotated neutral segments
whose stored valence/arousal sit far from the baseline's (0, 0) (``anchor.NEUTRAL_FLAG``). The
stored valence/arousal themselves come from the engine's streaming baseline (docs/validity.md).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facelens.core.affect.anchor import anchor_from_spans, anchor_robust, neutral_flags
from facelens.core.annotation.segments import Segment

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.results import SessionResults


@dataclass
class BaselineSummary:
    """Where the neutral baseline comes from and which neutral segments disagree with it."""

    source: str  # "annotated neutral segments", "robust estimate (...)" or "none"
    n_frames: int
    flags: list[str] = field(default_factory=list)

    def text(self) -> str:
        """One or more lines for a panel or the report."""
        head = f"Neutral baseline: {self.source}" + (f" ({self.n_frames} frames)" if self.n_frames else "")
        return "\n".join([head, *self.flags])


def baseline_summary(results: SessionResults, segments: Sequence[Segment]) -> BaselineSummary:
    """Baseline source and neutral-segment flags of an opened results file."""
    spans = [(s.start_s, s.end_s) for s in segments if s.label == "neutral"]
    expr = np.asarray(results.expressions, np.float64)
    names = list(results.expression_names)
    usable = np.asarray(results.usable, bool)
    anchor = anchor_from_spans(expr, usable, results.time_s, spans, names) if spans else None
    if anchor is None:
        p_neutral = None
        if results.emotions is not None and "neutral" in results.emotion_labels:
            p_neutral = np.asarray(results.emotions, np.float64)[:, results.emotion_labels.index("neutral")]
        anchor = anchor_robust(expr, usable, p_neutral, names)
    flags = neutral_flags(results.time_s, np.asarray(results.valence, np.float64),
                          np.asarray(results.arousal, np.float64), spans)
    if anchor is None:
        return BaselineSummary("none (fewer than 3 usable frames)", 0, flags)
    return BaselineSummary(anchor.source, anchor.n_frames, flags)
