"""Run the shipped per-frame stages on sampled frames and keep what the VA estimators need.

The expensive part of an analysis (face tracking and the appearance model) runs once per clip and
variant; the valence/arousal estimators (cheap, stateful) then run many times on the stored
:class:`FrameData` (ablation, sensitivity, segment orders). The steps are the pipeline's own, in
its order: ``FaceTracker.process`` frame by frame (restarted every ``restart_every`` sampled
frames of :class:`~facelens.core.analysis.contract.AnalysisConfig`, :func:`~facelens.core.analysis.trackers.track_frames`), the engines' per-frame step
:func:`~facelens.core.analysis.frame_columns.frame_columns` (head pose, expression measures, the
extreme-pose rule), then the FER2013 posterior of every tracked face. The quality gates' raw
inputs (occlusion-test confidence, blur measure, face count) are kept too, so the gates can be
applied again with other constants (:mod:`.gates`, the sensitivity analysis).
``tests/test_validation.py`` checks that valence/arousal computed from :class:`FrameData` equal
``facelens analyze``'s on a real clip.
"""
from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.types import Quality, is_usable
from facelens.core.validation.sampling import SampledClip

#: Bump when what :func:`track_clip` computes changes (invalidates cached FrameData).
CACHE_VERSION = "4"  # 2: the key also names the crop preprocessing; 3: the gates' inputs and every face's posterior; 4: the blur measure


@dataclass
class FrameData:
    """Per-sampled-frame outputs of tracking, geometry and the appearance model."""

    time_s: np.ndarray  # (N,)
    quality: np.ndarray  # (N,) uint8 Quality codes
    expressions: np.ndarray  # (N, K) float32
    fer: np.ndarray  # (N, 7) float32 FER2013 posterior, NaN rows where unusable
    euler: np.ndarray  # (N, 3) yaw, pitch, roll degrees
    landmarks: np.ndarray  # (N, 478, 3) float32 image-frame mesh
    # the gates' inputs (None in frames not made by track_clip, e.g. a still from a results file):
    confidence: np.ndarray | None = None  # (N,) float32 occlusion-test confidence the tracker decided with
    blur: np.ndarray | None = None  # (N,) float32 blur measure (tracking.quality.blur_measure)
    n_faces: np.ndarray | None = None  # (N,) uint8 faces in view
    fer_all: np.ndarray | None = None  # (N, 7) float32 FER2013 posterior of every tracked face, usable or not

    @property
    def usable(self) -> np.ndarray:
        return np.asarray(is_usable(self.quality), bool)

    def take(self, index: np.ndarray, time_s: np.ndarray | None = None) -> FrameData:
        """Rows ``index`` (e.g. a re-ordering), optionally with new times."""
        d: dict[str, Any] = {f.name: (None if getattr(self, f.name) is None else getattr(self, f.name)[index])
                             for f in fields(self)}
        if time_s is not None:
            d["time_s"] = np.asarray(time_s, np.float64)
        return FrameData(**d)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        arrays = {f.name: getattr(self, f.name) for f in fields(self)}
        np.savez_compressed(tmp, **{k: v for k, v in arrays.items() if v is not None})
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> FrameData:
        with np.load(path) as z:
            return cls(**{f.name: z[f.name] for f in fields(cls) if f.name in z.files})


class Analyser:
    """Holds the appearance model (loaded once) and tracks clips into :class:`FrameData`.

    Parameters
    ----------
    cache_dir
        Folder for cached FrameData (``None``: no cache).
    """

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        from facelens.core.affect.fer import FerEmotionModel

        self.model = FerEmotionModel(device="cpu")
        self.cache_dir = Path(cache_dir) if cache_dir else None

    def _cache_path(self, key: str) -> Path | None:
        if self.cache_dir is None:
            return None
        from facelens.core.face.tracking import gate_settings

        # the stored posteriors depend on how the crops were prepared, the stored quality codes on the
        # gates: another way, another entry
        gates = ",".join(f"{k}={v}" for k, v in sorted(gate_settings().items()))
        digest = hashlib.sha256(f"{CACHE_VERSION}:{self.model.preprocessing}:{gates}:{key}".encode()).hexdigest()[:20]
        return self.cache_dir / f"{digest}.npz"

    def track(self, clip: SampledClip, key: str | None = None) -> FrameData:
        """FrameData of ``clip`` (from the cache when ``key`` names a cached run)."""
        path = self._cache_path(key) if key else None
        if path is not None and path.is_file():
            return FrameData.load(path)
        data = track_clip(clip.frames, clip.time_s, self.model)
        if path is not None:
            data.save(path)
        return data


def track_clip(frames: list[np.ndarray], time_s: np.ndarray, model: Any) -> FrameData:
    """Tracker + geometry + FER2013 posterior for frames in time order (see module docstring)."""
    from facelens.core.analysis.contract import AnalysisConfig
    from facelens.core.analysis.frame_columns import frame_columns
    from facelens.core.analysis.trackers import make_tracker, track_frames
    from facelens.core.common.types import SampledFrame

    config = AnalysisConfig()  # the mediapipe backend, as facelens analyze by default
    sampled = [SampledFrame(i, i, float(t), rgb) for i, (rgb, t) in enumerate(zip(frames, time_s))]
    new_tracker = functools.partial(make_tracker, config, "cpu", False)  # a video tracker of the analysis's backend
    obs = [o for _, o in track_frames(sampled, new_tracker, config.restart_every)]
    cols = frame_columns(sampled, obs, config)
    quality, bbox = cols["quality"].copy(), cols["bbox"]
    n = len(frames)
    fer_all = np.full((n, 7), np.nan, np.float32)
    has_box = np.all(np.isfinite(bbox), axis=1)
    usable = np.asarray(is_usable(quality), bool)
    quality[usable & ~has_box] = int(Quality.NO_FACE)  # the stage's rule: no box, no face
    face = has_box & (quality != int(Quality.NO_FACE))
    idx = np.flatnonzero(face)
    if idx.size:
        fer_all[idx] = model.predict_faces([frames[i] for i in idx], [bbox[i].astype(np.float64) for i in idx])
    fer = np.where(np.asarray(is_usable(quality), bool)[:, None], fer_all, np.float32(np.nan))
    return FrameData(np.asarray(time_s, np.float64), quality, cols["expressions"], fer,
                     cols["euler"].astype(np.float32), cols["landmarks"], cols["confidence"].astype(np.float32),
                     cols["blur"].astype(np.float32), cols["n_faces"].astype(np.uint8), fer_all)
