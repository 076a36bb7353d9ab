"""The tracker's quality gates applied again to stored frames, with other constants.

:func:`~facelens.core.validation.runner.track_clip` keeps what the gates decide from (the occlusion
test's confidence, the blur measure, the face count, the head pose) and the FER2013 posterior of
every tracked face, so the sensitivity analysis can ask what a segment mean would be had a gate's
constant been different, without tracking again. With the shipped constants :func:`regate` gives
back the stored quality codes (``tests/test_validation.py``).

One approximation: the occlusion test runs on a schedule whose bands do not depend on
``min_confidence`` except through the frames re-checked after a flag
(:class:`~facelens.core.face.tracking.quality.OcclusionSchedule`); re-gating keeps the frames the
shipped schedule checked and the confidences it carried between them. ``disagreement_at_half``
needs no row of its own: the confidence is linear in the disagreement, so scaling it by 0.5 / 1.5
flags exactly the frames below confidence 0.75 / 0.25, i.e. ``min_confidence`` at +50 % / -50 %.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from facelens.core.common.types import Quality, is_usable
from facelens.core.face.geometry import MAX_PITCH_DEG, MAX_YAW_DEG, extreme_pose_mask
from facelens.core.face.tracking.quality import DEFAULT_BLUR_THRESHOLD, DEFAULT_MIN_CONFIDENCE, frame_quality
from facelens.core.validation.runner import FrameData

#: Codes the tracker's gates and the pose rule decide between (others, e.g. NO_FACE, stay).
GATED = (Quality.OK, Quality.MULTIPLE_FACES, Quality.LOW_CONFIDENCE, Quality.MOTION_BLUR, Quality.EXTREME_POSE)


def regate(d: FrameData, min_confidence: float = DEFAULT_MIN_CONFIDENCE,
           blur_threshold: float = DEFAULT_BLUR_THRESHOLD, max_yaw_deg: float = MAX_YAW_DEG,
           max_pitch_deg: float = MAX_PITCH_DEG) -> FrameData:
    """``d`` with the quality codes decided again under these constants (and ``fer`` following them).

    Raises
    ------
    ValueError
        For frames that do not carry the gates' inputs (not made by ``track_clip``).
    """
    if d.confidence is None or d.blur is None or d.n_faces is None or d.fer_all is None:
        raise ValueError("these frames do not carry the quality gates' inputs (track them again)")
    q = np.array(d.quality, np.uint8, copy=True)
    redo = np.isin(q, [int(c) for c in GATED]) & np.isfinite(d.fer_all[:, 0])
    for i in np.flatnonzero(redo):
        q[i] = int(frame_quality(float(d.confidence[i]), float(d.blur[i]), int(d.n_faces[i]),
                                 min_confidence=min_confidence, blur_threshold=blur_threshold))
    extreme = extreme_pose_mask(d.euler.astype(np.float64), max_yaw_deg, max_pitch_deg)
    q[redo & extreme & np.isin(q, [int(Quality.OK), int(Quality.MULTIPLE_FACES)])] = int(Quality.EXTREME_POSE)
    usable = np.asarray(is_usable(q), bool)
    fer = np.where(usable[:, None], d.fer_all, np.float32(np.nan)).astype(np.float32)
    return replace(d, quality=q, fer=fer)
