"""The typed sections of a patient report (Qt-free data; ``facelens.report`` draws them).

A report is a :class:`ReportContent`: header facts for the footer and an ordered list of sections.
Every section has a ``title`` and an ``unavailable`` reason: when that is not empty the renderer
prints "Not available, because <reason>" instead of the body, so a report with no valid frames or
no model is still complete and says why something is missing (it never shows an empty chart).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

NOT_AVAILABLE = "Not available, because"


@dataclass
class Section:
    """Base: a titled block of the report."""

    title: str
    unavailable: str = ""  # reason the content is missing ("" = available)

    @property
    def available(self) -> bool:
        return not self.unavailable

    @property
    def unavailable_text(self) -> str:
        """The sentence the report prints when the section has no content."""
        return f"{NOT_AVAILABLE} {self.unavailable.rstrip('.')}."


@dataclass
class HeaderSection(Section):
    """Who, what and when. ``fields`` are (label, value) pairs in print order."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    identifying_omitted: bool = False  # True: patient ID, date and names were left out on request
    notices: list[str] = field(default_factory=list)  # e.g. "synthetic demo session"


@dataclass
class SegmentQuality:
    """Valid-frame share of one annotated segment."""

    label: str
    start_s: float
    end_s: float
    n_frames: int
    n_valid: int

    @property
    def share(self) -> float:
        return self.n_valid / self.n_frames if self.n_frames else float("nan")


@dataclass
class QualitySection(Section):
    """Data quality: how much of the recording could be used, and why the rest could not."""

    duration_s: float = float("nan")
    sample_fps: float = float("nan")
    n_frames: int = 0
    n_usable: int = 0  # usable face (quality OK / several faces)
    n_valid: int = 0  # usable with finite valence and arousal
    discards: dict[str, int] = field(default_factory=dict)  # reason -> frames
    segments: list[SegmentQuality] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # per label: low valid share, missing label
    n_excluded: int = 0  # frames inside the reviewer's exclusions (left out of every statistic)
    n_excluded_usable: int = 0  # of those, frames that were valid before the exclusion
    exclusions: list[tuple[float, float]] = field(default_factory=list)  # (start_s, end_s)


@dataclass
class AffectSeriesSection(Section):
    """Valence and arousal over time with the annotated segments, and the circumplex density."""

    time_s: np.ndarray = field(default_factory=lambda: np.empty(0))
    valence: np.ndarray = field(default_factory=lambda: np.empty(0))  # NaN where not valid
    arousal: np.ndarray = field(default_factory=lambda: np.empty(0))
    segments: list[tuple[str, float, float]] = field(default_factory=list)  # (label, start_s, end_s)
    density: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # (n_a, n_v) share of frames
    density_edges: np.ndarray = field(default_factory=lambda: np.empty(0))  # bin edges on [-1, 1]
    n_valid: int = 0
    quadrants: dict[str, float] = field(default_factory=dict)  # "V+A+" -> share of valid frames


@dataclass
class PublishedGroup:
    """Published mean ± SD of frame-level valence/arousal of one group and label."""

    v_mean: float
    v_sd: float
    a_mean: float
    a_sd: float


@dataclass
class VARow:
    """One label of the paper's table: this session's values next to the published groups."""

    label: str
    n_segments: int
    n_frames: int
    n_valid: int
    v_mean: float
    v_sd: float
    a_mean: float
    a_sd: float
    bd: PublishedGroup | None
    mdd: PublishedGroup | None
    published_note: str = ""  # e.g. "no numbers published"


@dataclass
class VATableSection(Section):
    rows: list[VARow] = field(default_factory=list)
    valence_contrast: float = float("nan")
    citation: str = ""
    note: str = ""


@dataclass
class IndexRow:
    """A dynamics index over the whole session, with its plain-language meaning and source."""

    name: str
    valence: float
    arousal: float
    explanation: str
    source: str = ""
    digits: int = 3


@dataclass
class SegmentIndexRow:
    label: str
    start_s: float
    end_s: float
    n_valid: int
    values: dict[str, float]  # column key (see DynamicsSection.segment_columns) -> value


@dataclass
class DynamicsSection(Section):
    session: list[IndexRow] = field(default_factory=list)
    segment_columns: list[tuple[str, str, int]] = field(default_factory=list)  # (key, header, digits)
    segments: list[SegmentIndexRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # The person's fixed neutral baseline (facelens.core.dynamics.baseline): its source line, the
    # annotated neutral segments far from it, and what the stored numbers are measured against.
    baseline: str = ""
    baseline_flags: list[str] = field(default_factory=list)
    baseline_note: str = ""


@dataclass
class Moment:
    """A face snapshot: the pose-free mesh of one frame and why it was chosen."""

    role: str  # "highest valence", "lowest valence", "neutral moment"
    frame: int
    time_s: float
    valence: float
    arousal: float
    label: str  # segment label at that time ("" outside segments)
    mesh: np.ndarray  # (478, 3) template frame
    how: str = ""  # how it was chosen


@dataclass
class SnapshotSection(Section):
    moments: list[Moment] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # "<role>: reason" for moments that could not be drawn


@dataclass
class DriverRow:
    feature: str
    value: float
    contribution: float
    imputed: bool


@dataclass
class DiagnosisSection(Section):
    """BD-vs-MDD probability with its interval and reasons, or the refusal; and the model card."""

    refused: str = ""  # the model's refusal reason ("" when it gave a probability)
    probability_bd: float = float("nan")
    interval: tuple[float, float] = (float("nan"), float("nan"))
    interval_method: str = ""
    drivers: list[DriverRow] = field(default_factory=list)
    imputed_features: list[str] = field(default_factory=list)
    n_valid_frames: dict[str, int] = field(default_factory=dict)
    model_id: str = ""
    model_sha256: str = ""
    simulated: bool = True
    card: dict[str, Any] = field(default_factory=dict)  # the model card as stored with the model
    session_ids: list[int] = field(default_factory=list)  # the patient's sessions the prediction used
    inputs_digest: str = ""  # InputsKey.digest of those inputs ('' when made from files)


@dataclass
class ModelsSection(Section):
    """Models that produced the numbers (from the results file), with versions and SHA-256."""

    models: list[dict[str, str]] = field(default_factory=list)  # id, version, sha256, task, training_data


@dataclass
class SignOffSection(Section):
    """The clinician's interpretation and sign-off (blank lines to write on when not given)."""

    interpretation: str = ""
    signed_by: str = ""
    identifying_omitted: bool = False


@dataclass
class DisclaimerSection(Section):
    paragraphs: list[str] = field(default_factory=list)


@dataclass
class ReportContent:
    """Everything a report shows, in order; rendered by ``facelens.report.build_pdf``."""

    report_id: str
    generated_at: str  # ISO 8601, local time with offset
    software_version: str
    video_sha256: str
    model_hashes: list[tuple[str, str]]  # (model id, sha256) of every model used, for the footer
    sections: list[Section]
    title: str = "FaceLens session report"
    subtitle: str = "Facial affect and affective dynamics (research / decision support)"
    source: dict[str, Any] = field(default_factory=dict)  # results path, segments source, workspace ids

    def section(self, kind: type) -> Any:
        """The first section of a type (``None`` if absent)."""
        return next((s for s in self.sections if isinstance(s, kind)), None)
