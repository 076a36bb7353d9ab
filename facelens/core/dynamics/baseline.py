"""What the person's neutral baseline is, for display: its source and the neutral segments that disagree.

:func:`baseline_summary` is the Qt-free call the GUI and the report use. It says where a fixed
neutral anchor (:mod:`facelens.core.affect.anchor`) for this session comes from (the annotated
neutral segments when they hold at least 2 s of usable face, else a robust whole-session estimate
from the frames the appearance posterior finds most neutral) and lists the annotated neutral
segments whose stored mean valence or arousal lies beyond ``anchor.NEUTRAL_FLAG`` of neutral (0, 0).

The stored valence/arousal do not use this anchor: with the circumplex estimator they are measured
against the engine's *streaming* baseline, with G (the default) each frame is fitted against the
person's face model from the whole session (docs/validity.md). The anchor is shown for reference,
and the flag says what the stored numbers of a segment the clinician called neutral are, not a
corrected value (:func:`notes_for` gives the note that goes with each estimator).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facelens.core.affect.anchor import NEUTRAL_FLAG, anchor_from_spans, anchor_robust
from facelens.core.annotation import exclusions
from facelens.core.annotation.segments import Segment

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.results import SessionResults

#: What every display of the baseline says about the numbers next to it (circumplex estimator).
STREAMING_NOTE = ("Stored valence/arousal are measured against the engine's running baseline; "
                  "this fixed baseline is shown for reference and does not change them.")
STREAMING_NOTE_SHORT = "For reference; stored valence/arousal use the engine's running baseline."
#: The same for sessions analysed with G (the default estimator).
G_NOTE = ("Stored valence/arousal come from G, with each frame fitted against the person's face model from "
          "the whole session; this baseline (from the 20 expression measures) is shown for reference.")
G_NOTE_SHORT = "For reference; stored valence/arousal come from G (person's face model)."


def notes_for(estimator: str) -> tuple[str, str]:
    """(long, short) note for a session analysed with ``estimator`` (results ``va_estimator``)."""
    return (G_NOTE, G_NOTE_SHORT) if estimator == "g" else (STREAMING_NOTE, STREAMING_NOTE_SHORT)


@dataclass(frozen=True)
class NeutralFlag:
    """An annotated neutral segment whose stored mean valence or arousal is far from neutral."""

    start_s: float
    end_s: float
    valence: float
    arousal: float

    def text(self) -> str:
        return (f"Neutral segment {self.start_s:.1f}–{self.end_s:.1f} s: valence/arousal far from the "
                f"person's baseline (stored V {self.valence:+.2f}, A {self.arousal:+.2f}; flagged beyond "
                f"±{NEUTRAL_FLAG:.2f}): FaceLens reads this face at rest as an emotion")

    def short(self) -> str:
        return (f"Neutral segment {self.start_s:.1f}–{self.end_s:.1f} s: far from the person's baseline "
                f"(stored V {self.valence:+.2f}, A {self.arousal:+.2f})")


@dataclass
class BaselineSummary:
    """Where the neutral baseline comes from and which neutral segments disagree with it."""

    source: str  # "annotated neutral segments", "robust estimate (...)" or "none (...)"
    n_frames: int
    flagged: list[NeutralFlag] = field(default_factory=list)
    note: str = STREAMING_NOTE  # what the stored numbers are measured against (notes_for)
    note_short: str = STREAMING_NOTE_SHORT

    @property
    def flags(self) -> list[str]:
        """One plain-words line per flagged neutral segment."""
        return [f.text() for f in self.flagged]

    def describe(self) -> str:
        """Where the baseline comes from and how many frames it rests on."""
        return self.source + (f", {self.n_frames} frames" if self.n_frames else "")

    def headline(self) -> str:
        return f"Neutral baseline: {self.describe()}"

    def text(self) -> str:
        """The headline and the flags, one a line, for a panel or the report."""
        return "\n".join([self.headline(), *self.flags])


def neutral_segment_flags(time_s: np.ndarray, valence: np.ndarray, arousal: np.ndarray,
                          spans: Sequence[tuple[float, float]]) -> list[NeutralFlag]:
    """Neutral spans (at least 3 finite frames) whose mean valence or arousal exceeds ``NEUTRAL_FLAG``."""
    t = np.asarray(time_s, np.float64)
    v_all, a_all = np.asarray(valence, np.float64), np.asarray(arousal, np.float64)
    out = []
    for a, b in sorted(spans):
        m = (t >= a) & (t < b) & np.isfinite(v_all) & np.isfinite(a_all)
        if m.sum() < 3:
            continue
        v, ar = float(np.mean(v_all[m])), float(np.mean(a_all[m]))
        if max(abs(v), abs(ar)) > NEUTRAL_FLAG:
            out.append(NeutralFlag(float(a), float(b), v, ar))
    return out


def _p_neutral(results: SessionResults) -> np.ndarray | None:
    """The appearance model's neutral probability: ``emotions_appearance`` when stored (another
    estimator filled ``emotions``), else ``emotions``; None without a posterior."""
    post = getattr(results, "emotions_appearance", None)
    if post is None:
        post = results.emotions
    if post is None or "neutral" not in results.emotion_labels:
        return None
    return np.asarray(post, np.float64)[:, results.emotion_labels.index("neutral")]


def baseline_summary(results: SessionResults, segments: Sequence[Segment]) -> BaselineSummary:
    """Baseline source and neutral-segment flags of an opened results file."""
    usable, kept = exclusions.apply(results.time_s, results.usable, segments)  # a reviewer's exclusions left out
    spans = [(float(s.start_s), float(s.end_s)) for s in kept if s.label == "neutral"]
    expr = np.asarray(results.expressions, np.float64)
    names = list(results.expression_names)
    anchor = anchor_from_spans(expr, usable, results.time_s, spans, names) if spans else None
    if anchor is None:
        anchor = anchor_robust(expr, usable, _p_neutral(results), names)
    out = ~exclusions.excluded_mask(results.time_s, segments)
    flagged = neutral_segment_flags(results.time_s, np.where(out, results.valence, np.nan),
                                    np.where(out, results.arousal, np.nan), spans)
    note, short = notes_for(str(results.meta.get("va_estimator", "circumplex")))
    if anchor is None:
        return BaselineSummary("none (fewer than 3 usable frames)", 0, flagged, note, short)
    return BaselineSummary(anchor.source, anchor.n_frames, flagged, note, short)
