"""The subject feature vector: what the BD-versus-MDD model sees of one patient.

All sessions of a subject are pooled per segment label (happy / sad / neutral): frame values
from every segment with that label, successive differences only inside a segment. A label
with fewer than ``MIN_VALID_FRAMES`` valid frames is *missing*: its features are NaN and its
flag ``has_<label>`` is 0. The model imputes NaN features with training-set means (stored in
the model) and the flag tells it that it did; nothing is ever silently set to zero.
The feature list with definitions is in ``docs/dynamics.md``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facelens.core.dynamics import PAC_THRESHOLD, SeriesIndices, label_pieces, pooled_indices
from facelens.core.annotation.segments import Segment

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.results import SessionResults

#: Minimum valid frames for a label to count as present: 5 s at the 10-fps sampling rate,
#: a third of the seed paper's 15-s clip (a FaceLens choice, see docs/dynamics.md).
MIN_VALID_FRAMES = 50
LABELS = ("happy", "sad", "neutral")
_PER_LABEL = ("v_mean", "v_sd", "a_mean", "a_sd", "v_mssd", "a_mssd", "v_inertia", "a_inertia")

#: Feature order of the model input.
FEATURE_NAMES: tuple[str, ...] = tuple(
    [f"{lab}_{f}" for lab in LABELS for f in _PER_LABEL]
    + ["valence_contrast", "arousal_contrast"]
    + [f"has_{lab}" for lab in LABELS]
)


@dataclass
class SessionSeries:
    """The per-frame inputs of one session that the features need."""

    time_s: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    usable: np.ndarray
    segments: list[Segment]
    source: str = ""

    @classmethod
    def from_results(cls, results: SessionResults, segments: Sequence[Segment]) -> SessionSeries:
        """Take the columns of an opened results file."""
        return cls(np.asarray(results.time_s), np.asarray(results.valence), np.asarray(results.arousal),
                   np.asarray(results.usable), list(segments), str(results.path))


@dataclass
class SubjectFeatures:
    """One subject's feature values (NaN where missing), flags and frame counts."""

    values: dict[str, float]
    n_valid: dict[str, int]  # valid frames per label, all sessions
    n_sessions: int
    missing_labels: list[str] = field(default_factory=list)

    def vector(self, names: Sequence[str] = FEATURE_NAMES) -> np.ndarray:
        """Values in model order (NaN for missing features, to be imputed by the model)."""
        return np.array([self.values.get(n, np.nan) for n in names], dtype=np.float64)


def _label_indices(sessions: Sequence[SessionSeries], label: str, which: str) -> SeriesIndices:
    pieces = []
    for s in sessions:
        segs = [g for g in s.segments if g.label == label]
        x = s.valence if which == "v" else s.arousal
        other = s.arousal if which == "v" else s.valence
        # A frame counts only if both valence and arousal are there (same frames for V and A).
        ok = np.asarray(s.usable, bool) & np.isfinite(other)
        pieces += label_pieces(s.time_s, x, ok, segs)
    return pooled_indices(pieces, pac_threshold=PAC_THRESHOLD)


def subject_features(sessions: Sequence[SessionSeries]) -> SubjectFeatures:
    """Pool a subject's sessions into the feature vector (see module docstring).

    Parameters
    ----------
    sessions
        At least one session of the subject.
    """
    if not sessions:
        raise ValueError("a subject needs at least one session")
    nan = float("nan")
    values: dict[str, float] = {}
    n_valid: dict[str, int] = {}
    missing: list[str] = []
    for lab in LABELS:
        vi = _label_indices(sessions, lab, "v")
        ai = _label_indices(sessions, lab, "a")
        n_valid[lab] = vi.n_valid
        present = vi.n_valid >= MIN_VALID_FRAMES
        if not present:
            missing.append(lab)
        got = {
            "v_mean": vi.mean, "v_sd": vi.sd, "a_mean": ai.mean, "a_sd": ai.sd,
            "v_mssd": vi.mssd, "a_mssd": ai.mssd, "v_inertia": vi.inertia, "a_inertia": ai.inertia,
        }
        for f in _PER_LABEL:
            values[f"{lab}_{f}"] = float(got[f]) if present else nan
        values[f"has_{lab}"] = 1.0 if present else 0.0
    values["valence_contrast"] = values["happy_v_mean"] - values["sad_v_mean"]
    values["arousal_contrast"] = values["happy_a_mean"] - values["sad_a_mean"]
    return SubjectFeatures(values, n_valid, len(sessions), missing)
