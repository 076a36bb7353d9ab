"""Tracker output + geometry of a block of frames as results-file columns (every engine's per-frame step)."""
from __future__ import annotations

import numpy as np

from facelens.core.analysis.contract import AnalysisConfig
from facelens.core.common.types import N_LANDMARKS, FaceObservation, Quality, SampledFrame
from facelens.core.face import geometry


def frame_columns(frames: list[SampledFrame], obs: list[FaceObservation], config: AnalysisConfig) -> dict[str, np.ndarray]:
    """The stored columns of one block except the affect ones (emotions, valence, arousal).

    Also flags EXTREME_POSE on the observations (the rule of :func:`geometry.apply_pose_quality`,
    vectorised), so it must run before the affect stage decides which faces are usable.
    """
    b = len(frames)
    lm = np.full((b, N_LANDMARKS, 3), np.nan, np.float32)
    bbox = np.full((b, 4), np.nan, np.float32)
    for i, o in enumerate(obs):
        if o.landmarks is not None:
            lm[i] = o.landmarks
        if o.bbox is not None:
            bbox[i] = o.bbox
    pose = geometry.head_pose_batch(lm)
    expressions = geometry.expression_measures_batch(lm, pose)
    extreme = geometry.extreme_pose_mask(pose["euler"], config.max_yaw_deg, config.max_pitch_deg)
    for i, o in enumerate(obs):
        if extreme[i] and o.quality in (Quality.OK, Quality.MULTIPLE_FACES):
            o.quality = Quality.EXTREME_POSE
    out: dict[str, np.ndarray] = {
        "time_s": np.array([f.time_s for f in frames], np.float64),
        "frame_index": np.array([f.frame_index for f in frames], np.int64),
        "quality": np.array([int(o.quality) for o in obs], np.uint8),
        "n_faces": np.array([o.n_faces for o in obs], np.uint8),
        "confidence": np.array([o.confidence for o in obs], np.float32),
        "blur": np.array([o.blur for o in obs], np.float32),
        "bbox": bbox, "landmarks": lm, "expressions": expressions,
        "euler": pose["euler"], "rotation": pose["rotation"], "translation": pose["translation"],
        "scale": pose["scale"],
    }
    if config.reconstruction != "fit":  # AsmV2L needs the pixels: its network runs here, the sink keeps time order
        from facelens.core.analysis.asmv2l_stage import block_network, block_outputs

        out.update(block_outputs([f.rgb for f in frames], out, block_network(config.reconstruction, config.device)))
    return out
