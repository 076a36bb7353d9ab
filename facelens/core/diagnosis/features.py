"""The subject feature vector: what the BD-versus-MDD model sees of one patient.

All sessions of a subject are pooled per segment label (happy / sad / neutral): frame values
from every segment with that label, successive differences only inside a segment. A label
with less than ``MIN_VALID_SECONDS`` of valid frames (seconds, whatever the sampling rate) is
*missing*: its features are NaN and its flag ``has_<label>`` is 0. The model imputes NaN features with training-set means (stored in
the model) and the flag tells it that it did; nothing is ever silently set to zero.
The feature list with definitions is in ``docs/dynamics.md``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from facelens.core.annotation import exclusions
from facelens.core.annotation.segments import Segment
from facelens.core.dynamics import PAC_THRESHOLD, SeriesIndices, label_pieces, pooled_indices

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.results import SessionResults

#: Minimum valid time for a label to count as present: 5 s, a third of the seed paper's 15-s clip
#: (a FaceLens choice, see docs/dynamics.md). Counted in seconds (valid frames x the session's
#: median sampling step), so that the rule does not change with the frame rate.
MIN_VALID_SECONDS = 5.0
#: The same at the 10-fps rate of the models (kept for model cards and older callers).
MIN_VALID_FRAMES = 50
LABELS = ("happy", "sad", "neutral")
_PER_LABEL = ("v_mean", "v_sd", "a_mean", "a_sd", "v_mssd", "a_mssd", "v_inertia", "a_inertia")

#: Feature order of the model input.
FEATURE_NAMES: tuple[str, ...] = tuple(
    [f"{lab}_{f}" for lab in LABELS for f in _PER_LABEL]
    + ["valence_contrast", "arousal_contrast"]
    + [f"has_{lab}" for lab in LABELS]
)
#: Within-person contrasts against the person's own neutral segments, reported beside the absolute
#: features (the shipped reference model predates them and does not use them).
CONTRAST_NAMES: tuple[str, ...] = tuple(f"{lab}_{ax}_minus_neutral" for lab in ("happy", "sad") for ax in "va")
#: Expression-coefficient dynamics, as in the seed paper's subject features: per label, mean, SD and
#: MSSD of the leading ``COEF_COMPONENTS`` expression components of the morphable fit (``coef_exp``,
#: the session-wide fit). Three: in the shipped model they hold 42.1, 37.2 and 6.7 % of the expression
#: deviation variance (lip spread/smile, jaw/mouth opening, lips and chin; models/morphable/MODEL_CARD.md);
#: the other nine hold 7.7 % together. A FaceLens choice, not the paper's (which does not list them).
COEF_COMPONENTS = 3
COEF_FEATURE_NAMES: tuple[str, ...] = tuple(f"{lab}_c{k + 1}_{f}" for lab in LABELS for k in range(COEF_COMPONENTS)
                                            for f in ("mean", "sd", "mssd"))
#: The feature sets a model can be trained on (``facelens cohort train --features``): the shipped
#: reference model uses ``va`` (its simulated cohort has no coefficients); ``va+coef`` adds the
#: coefficient dynamics and needs results files with a morphable fit.
FEATURE_SETS: dict[str, tuple[str, ...]] = {"va": FEATURE_NAMES, "va+coef": FEATURE_NAMES + COEF_FEATURE_NAMES}


@dataclass
class SessionSeries:
    """The per-frame inputs of one session that the features need."""

    time_s: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    usable: np.ndarray
    segments: list[Segment]
    source: str = ""
    coef: np.ndarray | None = None  # (N, K_exp) expression coefficients, when the file has a morphable fit

    def __post_init__(self) -> None:
        # a reviewer's exclusions: their frames are unusable here, and they are no label (annotation.exclusions)
        self.usable, self.segments = exclusions.apply(self.time_s, self.usable, self.segments)

    @classmethod
    def from_results(cls, results: SessionResults, segments: Sequence[Segment]) -> SessionSeries:
        """Take the columns of an opened results file (the coefficients only from the morphable fit:
        AsmV2L's coefficients are another basis and are not mixed with them)."""
        coef = getattr(results, "coef_exp", None)
        if str(results.meta.get("reconstruction", "fit")) != "fit":
            coef = None
        return cls(np.asarray(results.time_s), np.asarray(results.valence), np.asarray(results.arousal),
                   np.asarray(results.usable), list(segments), str(results.path),
                   None if coef is None else np.asarray(coef, np.float64))


@dataclass
class SubjectFeatures:
    """One subject's feature values (NaN where missing), flags and frame counts."""

    values: dict[str, float]
    n_valid: dict[str, int]  # valid frames per label, all sessions
    n_sessions: int
    missing_labels: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # valid seconds per label, all sessions
    sampling_fps: float = float("nan")  # median sampling rate of the sessions

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


def _coef_indices(sessions: Sequence[SessionSeries], label: str, k: int) -> SeriesIndices | None:
    """Pooled indices of expression component ``k`` over the label's segments (frames where valence
    and arousal are valid too, the frames the VA features use); None when a session has no fit."""
    pieces = []
    for s in sessions:
        if s.coef is None or s.coef.ndim != 2 or s.coef.shape[1] <= k:
            return None
        segs = [g for g in s.segments if g.label == label]
        ok = np.asarray(s.usable, bool) & np.isfinite(s.valence) & np.isfinite(s.arousal)
        pieces += label_pieces(s.time_s, s.coef[:, k], ok, segs)
    return pooled_indices(pieces, pac_threshold=PAC_THRESHOLD)


def _step(s: SessionSeries) -> float:
    """Sampling step (s): the mean of the steps up to twice the median (gaps left out). Not the
    median itself: a 24-fps recording sampled at 10 fps shows frames 0.083 and 0.125 s apart, whose
    median is 0.083 s although the rate is 10 per second."""
    dt = np.diff(np.asarray(s.time_s, np.float64))
    dt = dt[np.isfinite(dt) & (dt > 0)]
    if dt.size == 0:
        return float("nan")
    return float(dt[dt <= 2.0 * np.median(dt)].mean())


def _valid_seconds(sessions: Sequence[SessionSeries], label: str) -> float:
    total = 0.0
    for s in sessions:
        segs = [g for g in s.segments if g.label == label]
        t = np.asarray(s.time_s, np.float64)
        inside = np.zeros(t.shape, bool)
        for g in segs:
            inside |= (t >= g.start_s) & (t < g.end_s)
        ok = inside & np.asarray(s.usable, bool) & np.isfinite(s.valence) & np.isfinite(s.arousal)
        step = _step(s)
        if np.isfinite(step):
            total += float(ok.sum()) * step
    return total


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
    seconds: dict[str, float] = {}
    for lab in LABELS:
        vi = _label_indices(sessions, lab, "v")
        ai = _label_indices(sessions, lab, "a")
        n_valid[lab] = vi.n_valid
        seconds[lab] = _valid_seconds(sessions, lab)
        present = seconds[lab] >= MIN_VALID_SECONDS - 1e-9
        if not present:
            missing.append(lab)
        got = {
            "v_mean": vi.mean, "v_sd": vi.sd, "a_mean": ai.mean, "a_sd": ai.sd,
            "v_mssd": vi.mssd, "a_mssd": ai.mssd, "v_inertia": vi.inertia, "a_inertia": ai.inertia,
        }
        for f in _PER_LABEL:
            values[f"{lab}_{f}"] = float(got[f]) if present else nan
        values[f"has_{lab}"] = 1.0 if present else 0.0
        for k in range(COEF_COMPONENTS):
            ci = _coef_indices(sessions, lab, k) if present else None
            for f, v in (("mean", "mean"), ("sd", "sd"), ("mssd", "mssd")):
                values[f"{lab}_c{k + 1}_{f}"] = float(getattr(ci, v)) if ci is not None else nan
    values["valence_contrast"] = values["happy_v_mean"] - values["sad_v_mean"]
    values["arousal_contrast"] = values["happy_a_mean"] - values["sad_a_mean"]
    for lab in ("happy", "sad"):
        for ax in "va":
            values[f"{lab}_{ax}_minus_neutral"] = values[f"{lab}_{ax}_mean"] - values[f"neutral_{ax}_mean"]
    steps = [x for x in (_step(s) for s in sessions) if np.isfinite(x)]
    fps = 1.0 / float(np.median(steps)) if steps else float("nan")
    return SubjectFeatures(values, n_valid, len(sessions), missing, seconds, fps)
