"""``TorchFaceTracker``: mediapipe's face tracking with the torch modules, on CPU or CUDA.

Same contract as :class:`facelens.core.face.tracking.FaceTracker` (one
:class:`~facelens.core.common.types.FaceObservation` per frame, landmarks (478, 3) in pixels,
z scaled like x) and the same tracking rule as mediapipe's face-mesh graph: a frame
whose predecessor had a face is cropped around the predecessor's landmarks;
otherwise the detector's best face seeds the crop. A tracked face whose presence
score falls below ``min_tracking_confidence`` is dropped for that frame and the
next frame detects again.

Chunks side by side (``process_streams``) -- what the pipeline uses
-------------------------------------------------------------------
One frame from each of several independent streams (the pipeline's restart chunks) per
batch, each tracked from its own previous frame: exactly the rule of :meth:`process`, one
mesh run per frame (:mod:`facelens.core.analysis.torch_chunks`).

Batches of consecutive frames (``process_batch``, fixed point; not used by the pipeline)
----------------------------------------------------------------------------------------
The crop of frame t depends on the landmarks of frame t-1, which is sequential.
To keep the GPU busy the batch is solved as a fixed point instead: the detector
runs on every frame in one batch; pass 0 crops each frame from its own detection
(or from the state carried over from the previous batch); pass k crops frame t
from the landmarks pass k-1 found in frame t-1. Frames whose crop moved by more
than ``rect_tol_px`` are re-run, the others are final. After pass k the first k
frames are exactly sequential, and because the landmarks depend only weakly on the
crop the whole batch settles after 2-4 passes, well inside the 0.5 px agreement
the tests demand (measured in ``docs/gpu.md``). ``max_passes`` bounds the work.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Self

import numpy as np
import torch

from facelens.core.common.devices import resolve_device
from facelens.core.common.types import FaceObservation, Quality

from . import roi

_log = logging.getLogger(__name__)
DEFAULT_MAX_PASSES = 10
DEFAULT_RECT_TOL_PX = 0.1


class TorchFaceTracker:
    """Mediapipe's face detector + 478-point mesh as batched torch modules.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"`` ...
    static : bool
        Unrelated still images: detect on every call, never track.
    min_detection_confidence, min_tracking_confidence : float
        Mediapipe's detector threshold and face-presence threshold (both 0.5 by default).
    blur_threshold, blur_size, min_confidence : float, int, float
        Quality thresholds, as in :class:`facelens.core.face.tracking.FaceTracker` (same defaults).
    max_passes, rect_tol_px : int, float
        Fixed-point settings for consecutive-frame batches (module docstring).
    allow_tf32 : bool
        On CUDA, let cuDNN/cuBLAS use TF32 (faster, ~1e-3 relative error). Off by default
        so that the GPU path reproduces the CPU results; note that the flag is global to torch.
    """

    implementation = "torch"

    def __init__(self, device: str | torch.device = "auto", static: bool = False,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 blur_threshold: float | None = None, blur_size: int | None = None,
                 min_confidence: float | None = None, max_passes: int = DEFAULT_MAX_PASSES,
                 rect_tol_px: float = DEFAULT_RECT_TOL_PX, allow_tf32: bool = False) -> None:
        from facelens.core.face import tracking

        from .detector import FaceDetector
        from .mesh import FaceMesh

        self.device = device if isinstance(device, torch.device) else torch.device(resolve_device(device))
        if self.device.type == "cuda":
            torch.backends.cudnn.allow_tf32 = allow_tf32
            torch.backends.cuda.matmul.allow_tf32 = allow_tf32
        self.static = bool(static)
        self.min_tracking_confidence = float(min_tracking_confidence)
        self.blur_threshold = float(tracking.DEFAULT_BLUR_THRESHOLD if blur_threshold is None
                                    else blur_threshold)
        self.blur_size = int(tracking.DEFAULT_BLUR_SIZE if blur_size is None else blur_size)
        self.min_confidence = float(tracking.DEFAULT_MIN_CONFIDENCE if min_confidence is None
                                    else min_confidence)
        self.max_passes = max(1, int(max_passes))
        self.rect_tol_px = float(rect_tol_px)
        self._detector: Any = FaceDetector(min_detection_confidence).to(self.device).eval()
        self._mesh: Any = FaceMesh().to(self.device).eval()
        self._prev: torch.Tensor | None = None  # (478, 3) landmarks of the last frame, on device
        self.last_passes = 0  # passes the last batch needed (for benchmarks and docs)

    # -- public API ---------------------------------------------------------------------------
    def process(self, rgb: np.ndarray) -> FaceObservation:
        """Track the face in one upright RGB frame (H, W, 3) uint8."""
        return self.process_batch([rgb])[0]

    def process_batch(self, frames: Sequence[np.ndarray]) -> list[FaceObservation]:
        """Track consecutive frames (same size) in one batch; one observation per frame."""
        if self._mesh is None:
            raise RuntimeError("TorchFaceTracker is closed")
        arrays = [_check_frame(f) for f in frames]
        out: list[FaceObservation] = []
        start = 0
        while start < len(arrays):  # runs of equal size share one device batch
            stop = start + 1
            while stop < len(arrays) and arrays[stop].shape == arrays[start].shape:
                stop += 1
            out.extend(self._run(arrays[start:stop]))
            start = stop
        return out

    def process_streams(self, frames: Sequence[np.ndarray], states: Sequence[torch.Tensor | None]
                        ) -> tuple[list[FaceObservation], list[torch.Tensor | None]]:
        """One frame from each of several independent streams, in one device batch.

        Frame ``i`` is tracked from ``states[i]`` (the landmarks its stream's previous frame
        left, or ``None``: detect) exactly as :meth:`process` tracks a frame from the last
        one: one detector run and one mesh run per frame, no fixed-point passes. So running
        chunks of a video side by side, one frame of each per call, gives what running them
        one after the other with :meth:`process` gives (see :mod:`facelens.core.analysis.chunks`).
        All frames must have the same size. Returns the observations and each stream's new
        state (pass it back with the stream's next frame).
        """
        if self._mesh is None:
            raise RuntimeError("TorchFaceTracker is closed")
        if len(frames) != len(states):
            raise ValueError(f"{len(frames)} frames but {len(states)} stream states")
        if not frames:
            return [], []
        arrays = [_check_frame(f) for f in frames]
        if any(a.shape != arrays[0].shape for a in arrays):
            raise ValueError("process_streams needs frames of one size")
        prev = None if self.static else list(states)
        return self._step(arrays, prev)

    @torch.no_grad()
    def _step(self, frames: list[np.ndarray], prev: list[torch.Tensor | None] | None
              ) -> tuple[list[FaceObservation], list[torch.Tensor | None]]:
        n = len(frames)
        images, detections, rects = self._detect(frames)
        if prev is not None:
            for i, p in enumerate(prev):
                if p is not None:  # tracked: crop around the stream's previous landmarks
                    rects[i] = roi.rect_from_landmarks(p.to(self.device)[None])[0]
        lm = torch.full((n, 478, 3), float("nan"), device=self.device)
        present = torch.zeros(n, dtype=torch.bool, device=self.device)
        conf = torch.full((n,), float("nan"), device=self.device)
        idx = torch.nonzero(~torch.isnan(rects[:, 0])).flatten()
        if idx.numel():
            pts, score = self._mesh(images[idx], rects[idx])
            lm[idx] = pts
            present[idx] = score >= self.min_tracking_confidence
            conf[idx] = score
        self.last_passes = 1
        keep = present.cpu().numpy()
        states: list[torch.Tensor | None] = [lm[i].clone() if keep[i] and prev is not None else None
                                             for i in range(n)]
        return self._observations(frames, lm, present, conf.cpu().numpy(), detections), states

    def _detect(self, frames: list[np.ndarray]) -> tuple[torch.Tensor, list[list[Any]], torch.Tensor]:
        """Upload, detect; (images (N,3,H,W) float, detections, detection regions (N,5), NaN = none)."""
        n = len(frames)
        batch = torch.from_numpy(np.stack(frames))
        if self.device.type == "cuda":
            batch = batch.pin_memory()
        images = batch.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        detections = self._detector.detect(images)
        det_rect = torch.full((n, 5), float("nan"), device=self.device)
        for i, dets in enumerate(detections):
            if dets:
                best = max(dets, key=lambda d: d.box[2] * d.box[3])  # largest face, like FaceTracker
                det_rect[i] = roi.rect_from_detection(
                    torch.tensor(best.box[None], dtype=torch.float32, device=self.device),
                    torch.tensor(best.keypoints[None], dtype=torch.float32, device=self.device))[0]
        return images, detections, det_rect

    def reset(self) -> None:
        """Forget the tracked face (e.g. after a seek): the next frame detects."""
        self._prev = None

    def close(self) -> None:
        """Release the modules (and device memory). Safe to call twice."""
        self._detector = None
        self._mesh = None
        self._prev = None
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the batch ----------------------------------------------------------------------------
    @torch.no_grad()
    def _run(self, frames: list[np.ndarray]) -> list[FaceObservation]:
        n = len(frames)
        images, detections, det_rect = self._detect(frames)
        first = self._prev if (self._prev is not None and not self.static) else None
        rects = det_rect.clone()
        if first is not None:
            rects[0] = roi.rect_from_landmarks(first[None])[0]
        lm = torch.full((n, 478, 3), float("nan"), device=self.device)
        present = torch.zeros(n, dtype=torch.bool, device=self.device)
        conf = torch.full((n,), float("nan"), device=self.device)
        todo = ~torch.isnan(rects[:, 0])
        passes = 0
        while bool(todo.any()):
            idx = torch.nonzero(todo).flatten()
            pts, score = self._mesh(images[idx], rects[idx])
            lm[idx] = pts
            present[idx] = score >= self.min_tracking_confidence
            conf[idx] = score
            passes += 1
            if self.static or n == 1 or passes >= self.max_passes:
                break
            # next pass: frame t cropped from frame t-1's landmarks where it had a face
            new = det_rect.clone()
            new[0] = rects[0]
            track = present[:-1]
            if bool(track.any()):
                tracked = roi.rect_from_landmarks(torch.nan_to_num(lm[:-1]))
                new[1:] = torch.where(track[:, None], tracked, det_rect[1:])
            diff = torch.nan_to_num((new - rects).abs()[:, :4].amax(dim=1), nan=float("inf"))
            rot_diff = torch.nan_to_num((new[:, 4] - rects[:, 4]).abs(), nan=0.0) * new[:, 2].nan_to_num(0.0)
            lost = torch.isnan(new[:, 0])
            todo = ~lost & ((diff > self.rect_tol_px) | (rot_diff > self.rect_tol_px))
            _log.debug("pass %d: crop moved %.3f px, %d frames to redo", passes,
                       float(torch.maximum(diff, rot_diff).max()), int(todo.sum()))
            lm[lost] = float("nan")
            conf[lost] = float("nan")
            present &= ~lost
            rects = new
        self.last_passes = passes
        scores = conf.cpu().numpy()
        if not self.static:
            self._prev = lm[-1].clone() if bool(present[-1]) else None
        return self._observations(frames, lm, present, scores, detections)

    def _observations(self, frames: list[np.ndarray], lm: torch.Tensor, present: torch.Tensor,
                      scores: np.ndarray, detections: list[list[Any]]) -> list[FaceObservation]:
        from facelens.core.face.tracking import bbox_of, blur_measure, frame_quality

        lm_np = lm.float().cpu().numpy()
        ok = present.cpu().numpy()
        out: list[FaceObservation] = []
        for i, rgb in enumerate(frames):
            if not ok[i]:
                out.append(FaceObservation(quality=Quality.NO_FACE, n_faces=len(detections[i])))
                continue
            mesh = lm_np[i].astype(np.float64)
            bbox = bbox_of(mesh)
            others = [d for d in detections[i] if not _inside(d.box, bbox)]
            n_faces = 1 + len(others)
            # the mediapipe backend's blur measure and quality rule, so both flag the same frames
            blur = blur_measure(rgb, bbox, self.blur_size)
            conf = float(scores[i])
            q = frame_quality(conf, blur, n_faces, min_confidence=self.min_confidence,
                              blur_threshold=self.blur_threshold)
            out.append(FaceObservation(quality=q, landmarks=mesh.astype(np.float32),
                                       bbox=bbox.astype(np.float32), confidence=conf,
                                       n_faces=n_faces, blur=float(blur)))
        return out


def _inside(box: np.ndarray, bbox: np.ndarray) -> bool:
    """Whether a detection box (xmin, ymin, w, h) is centred inside a face bbox (x0, y0, x1, y1)."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return bool(bbox[0] <= cx <= bbox[2] and bbox[1] <= cy <= bbox[3])


def _check_frame(rgb: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {a.shape} {a.dtype}")
    return a
