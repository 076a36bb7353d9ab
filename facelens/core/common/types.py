"""Plain data types shared by every stage of the analysis (Qt-free).

These are the contracts between stages: a stage takes and returns these (or numpy
arrays), never widgets, files chosen by dialogs or progress bars.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

N_LANDMARKS = 478


class Quality(IntEnum):
    """Per-frame quality flag. ``OK`` and ``MULTIPLE_FACES`` are usable frames."""

    OK = 0
    MULTIPLE_FACES = 1  # usable: one consistent primary face is kept, the flag says so
    NO_FACE = 2
    LOW_CONFIDENCE = 3  # low landmark confidence or occlusion
    MOTION_BLUR = 4  # too little fine detail in the face crop's least sharp direction (tracking.quality.blur_measure)
    EXTREME_POSE = 5  # |yaw| or |pitch| beyond the limit
    POOR_FIT = 6  # the morphable model cannot explain the tracked mesh (set by the session pass)


QUALITY_LABELS: dict[Quality, str] = {
    Quality.OK: "ok",
    Quality.MULTIPLE_FACES: "several faces (primary face kept)",
    Quality.NO_FACE: "no face",
    Quality.LOW_CONFIDENCE: "low landmark confidence / occlusion",
    Quality.MOTION_BLUR: "motion blur",
    Quality.EXTREME_POSE: "extreme head pose",
    Quality.POOR_FIT: "mesh the face model cannot fit",
}

USABLE_QUALITIES = frozenset({Quality.OK, Quality.MULTIPLE_FACES})


def is_usable(quality: np.ndarray) -> np.ndarray:
    """Boolean mask of frames whose face may be used for affect estimates."""
    q = np.asarray(quality)
    return (q == Quality.OK) | (q == Quality.MULTIPLE_FACES)


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a recording (after rotation is applied)."""

    path: str
    duration_s: float
    native_fps: float
    width: int
    height: int
    rotation_deg: int = 0
    n_frames: int | None = None  # native frames, when known
    codec: str = ""
    is_image: bool = False


@dataclass
class SampledFrame:
    """One frame chosen by the sampler, upright RGB."""

    index: int  # ordinal in the sampled sequence (0, 1, 2, ...)
    frame_index: int  # ordinal of the decoded native frame
    time_s: float  # presentation time relative to the stream start
    rgb: np.ndarray  # (H, W, 3) uint8, rotation applied


@dataclass
class FaceObservation:
    """The tracker's verdict on one frame (landmarks in pixels, z in the same scale)."""

    quality: Quality
    landmarks: np.ndarray | None = None  # (478, 3) float32, x/y pixels, z pixel-scaled
    bbox: np.ndarray | None = None  # (4,) x0, y0, x1, y1 in pixels
    confidence: float = float("nan")
    n_faces: int = 0
    blur: float = float("nan")  # sharpness of the face crop (tracking.quality.blur_measure)


@dataclass
class HeadPose:
    """Rigid head pose from a similarity alignment to the neutral template."""

    yaw: float
    pitch: float
    roll: float  # degrees
    rotation: np.ndarray  # (3, 3)
    translation: np.ndarray  # (3,)
    scale: float


@dataclass
class Progress:
    """What a long-running generator yields after each batch."""

    done: int
    total: int
    rate: float = 0.0  # items per second
    eta_s: float = float("nan")
    message: str = ""
    partial: dict[str, np.ndarray] = field(default_factory=dict)  # the batch just finished
