"""Face tracking: mediapipe's 478-point face mesh per sampled frame, with quality flags.

``FaceTracker.process`` is called once per sampled frame, in order (the tracker keeps state:
mediapipe's own landmark tracking and the identity of the primary face). Each call returns a
:class:`~facelens.core.types.FaceObservation`:

* ``NO_FACE`` — mediapipe found no face.
* ``MULTIPLE_FACES`` — several faces; one *primary* face is kept consistently (the face nearest the
  previous primary face's centre when one lies within ``reacquire_radius`` face widths, else the
  largest) and the frame stays usable.
* ``LOW_CONFIDENCE`` — the mesh is not trustworthy: the face is occluded (a hand, an object) or the
  landmark model is unsure. mediapipe's FaceMesh solution exposes no per-frame score, so the
  tracker asks for a second opinion: the face crop is mirrored left-right and meshed afresh
  (detector + landmark model, static mode); mapped back, the two meshes agree closely on a
  visible face (lower-face RMS 0.1-0.3 cm in template units) and disagree where the model
  guesses behind an occluder (0.4-0.75 cm with a hand over the mouth).
  ``confidence = clip(1 - D / (2 * disagreement_at_half), 0, 1)``; no face in the mirror crop
  gives 0. This doubles the per-frame cost (about 2 ms more on one core).
* ``MOTION_BLUR`` — the variance of the Laplacian of the face crop, resized to ``blur_size``
  pixels square, is below ``blur_threshold``.

``EXTREME_POSE`` is decided by :func:`facelens.core.geometry.apply_pose_quality`.
mediapipe and OpenCV are imported lazily (the first tracker costs ~0.5 s to start).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from facelens.core.types import N_LANDMARKS, FaceObservation, Quality

# Default thresholds (measured on the recordings in shared/media; see docs/expressions.md,
# "Quality flags", for the figures behind them).
DEFAULT_BLUR_THRESHOLD = 25.0
DEFAULT_BLUR_SIZE = 128
DEFAULT_MIN_CONFIDENCE = 0.5
DEFAULT_DISAGREEMENT_AT_HALF = 0.45  # cm (template units): confidence 0.5 at this disagreement


@lru_cache(maxsize=1)
def _mirror_index() -> np.ndarray:
    """Landmark i's left-right counterpart, from the (exactly symmetric) template."""
    from facelens.core.geometry import template

    t = template()
    mirrored = t * np.array([-1.0, 1.0, 1.0])
    d = ((mirrored[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(d, axis=1)


@lru_cache(maxsize=1)
def _lower_face() -> np.ndarray:
    from facelens.core.geometry import template

    return np.flatnonzero(template()[:, 1] < -1.0)  # below the nose tip: mouth, chin, lower cheeks


class FaceTracker:
    """Per-frame face mesh with a consistent primary face and quality flags.

    Parameters
    ----------
    static
        True for unrelated still images (mediapipe runs detection on every call).
    max_num_faces
        Faces mediapipe looks for; the extra ones only count (``n_faces``) and never replace the
        primary face.
    min_detection_confidence, min_tracking_confidence
        Passed to mediapipe's FaceMesh.
    blur_threshold
        Laplacian variance (on the ``blur_size`` square grey crop, 0-255 scale) below which a
        frame is ``MOTION_BLUR``.
    blur_size
        Side of the square the face crop is resized to before the Laplacian, so that the blur
        measure does not depend on the face's size in the image.
    min_confidence
        ``confidence`` below which a frame is ``LOW_CONFIDENCE``.
    reacquire_radius
        How far (in face widths) the primary face may move between frames and still be recognised.
    """

    def __init__(self, static: bool = False, max_num_faces: int = 3,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 blur_threshold: float = DEFAULT_BLUR_THRESHOLD, blur_size: int = DEFAULT_BLUR_SIZE,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, reacquire_radius: float = 1.0,
                 occlusion_check: bool = True,
                 disagreement_at_half: float = DEFAULT_DISAGREEMENT_AT_HALF) -> None:
        import mediapipe as mp

        self.static = static
        self.blur_threshold = float(blur_threshold)
        self.blur_size = int(blur_size)
        self.min_confidence = float(min_confidence)
        self.reacquire_radius = float(reacquire_radius)
        self._mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=static, max_num_faces=max_num_faces, refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence)
        self.occlusion_check = bool(occlusion_check)
        self.disagreement_at_half = float(disagreement_at_half)
        # second opinion for the occlusion test: a fresh (detector-driven) mesh on the mirror image
        self._mirror_mesh: Any = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, max_num_faces=max_num_faces, refine_landmarks=True,
            min_detection_confidence=min_detection_confidence) if occlusion_check else None
        self._prev_centre: np.ndarray | None = None
        self._prev_width: float = float("nan")

    # -- public API ---------------------------------------------------------------------------
    def process(self, rgb: np.ndarray) -> FaceObservation:
        """Track the face in one upright RGB frame (H, W, 3) uint8."""
        if self._mesh is None:
            raise RuntimeError("FaceTracker is closed")
        rgb = np.ascontiguousarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
        h, w = rgb.shape[:2]
        result = self._mesh.process(rgb)
        faces = result.multi_face_landmarks or []
        if not faces:
            self._prev_centre = None
            return FaceObservation(quality=Quality.NO_FACE, n_faces=0)
        meshes = [self._to_pixels(f, w, h) for f in faces]
        primary = meshes[self._choose_primary(meshes)]
        bbox = _bbox(primary)
        self._prev_centre = (bbox[:2] + bbox[2:]) / 2
        self._prev_width = float(bbox[2] - bbox[0])
        blur = self.blur_measure(rgb, bbox)
        confidence = self._confidence(rgb, primary, bbox)
        if confidence < self.min_confidence:
            quality = Quality.LOW_CONFIDENCE
        elif blur < self.blur_threshold:
            quality = Quality.MOTION_BLUR
        elif len(meshes) > 1:
            quality = Quality.MULTIPLE_FACES
        else:
            quality = Quality.OK
        return FaceObservation(quality=quality, landmarks=primary.astype(np.float32),
                               bbox=bbox.astype(np.float32), confidence=float(confidence),
                               n_faces=len(meshes), blur=float(blur))

    def reset(self) -> None:
        """Forget the primary face (e.g. after a seek); mediapipe re-detects on its own."""
        self._prev_centre = None

    def close(self) -> None:
        """Release mediapipe's graph. Safe to call twice."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None
        if self._mirror_mesh is not None:
            self._mirror_mesh.close()
            self._mirror_mesh = None

    def __enter__(self) -> "FaceTracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _to_pixels(face: Any, w: int, h: int) -> np.ndarray:
        a = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
        if a.shape != (N_LANDMARKS, 3):
            raise RuntimeError(f"mediapipe returned {a.shape[0]} landmarks, expected {N_LANDMARKS}")
        return a * np.array([w, h, w], dtype=np.float64)

    def _choose_primary(self, meshes: list[np.ndarray]) -> int:
        boxes = [_bbox(m) for m in meshes]
        if self._prev_centre is not None and len(meshes) > 1:
            centres = np.array([(b[:2] + b[2:]) / 2 for b in boxes])
            d = np.linalg.norm(centres - self._prev_centre, axis=1)
            best = int(np.argmin(d))
            if d[best] <= self.reacquire_radius * self._prev_width:
                return best
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
        return int(np.argmax(areas))

    def blur_measure(self, rgb: np.ndarray, bbox: np.ndarray) -> float:
        """Variance of the Laplacian of the grey face crop resized to ``blur_size`` square."""
        import cv2

        crop = _crop(rgb, bbox)
        if crop.size == 0:
            return float("nan")
        grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        grey = cv2.resize(grey, (self.blur_size, self.blur_size), interpolation=cv2.INTER_AREA)
        return float(cv2.Laplacian(grey, cv2.CV_64F).var())

    def _confidence(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """Landmark confidence in [0, 1] from a mirrored second opinion (see module docstring)."""
        if not self.occlusion_check:
            return float("nan")
        d = self.mirror_disagreement(rgb, mesh, bbox)
        if not np.isfinite(d):
            return 0.0  # a face the tracker sees but a fresh detection on the mirror image does not
        return float(np.clip(1.0 - d / (2.0 * self.disagreement_at_half), 0.0, 1.0))

    def mirror_disagreement(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """RMS distance (template cm) between the lower-face shape of ``mesh`` and of the mesh found
        afresh on the mirrored face crop, each pose-normalised on its own; NaN when no face is
        found there."""
        from facelens.core.geometry import head_pose, posefree

        h, w = rgb.shape[:2]
        bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
        m = 0.5 * max(bw, bh)  # margin: mediapipe's detector needs some context around the face
        x0, y0 = int(max(bbox[0] - m, 0)), int(max(bbox[1] - m, 0))
        x1, y1 = int(min(bbox[2] + m, w)), int(min(bbox[3] + m, h))
        crop = np.ascontiguousarray(rgb[y0:y1, x0:x1, :][:, ::-1])
        if crop.shape[0] < 8 or crop.shape[1] < 8:
            return float("nan")
        result = self._mirror_mesh.process(crop)
        if not result.multi_face_landmarks:
            return float("nan")
        ch, cw = crop.shape[:2]
        cands = [self._to_pixels(f, cw, ch) for f in result.multi_face_landmarks]
        centre = np.array([(bbox[0] + bbox[2]) / 2 - x0, (bbox[1] + bbox[3]) / 2 - y0])
        for c in cands:  # back to unmirrored crop coordinates, landmark indices swapped L<->R
            c[:, 0] = cw - c[:, 0]
        cands = [c[_mirror_index()] for c in cands]
        other = min(cands, key=lambda c: float(np.linalg.norm(c[:, :2].mean(0) - centre)))
        mine = mesh - np.array([x0, y0, 0.0])
        a = posefree(mine, head_pose(mine))[_lower_face()]
        b = posefree(other, head_pose(other))[_lower_face()]
        return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))


def _bbox(mesh: np.ndarray) -> np.ndarray:
    return np.array([mesh[:, 0].min(), mesh[:, 1].min(), mesh[:, 0].max(), mesh[:, 1].max()])


def _crop(rgb: np.ndarray, bbox: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    x0, y0 = max(int(np.floor(bbox[0])), 0), max(int(np.floor(bbox[1])), 0)
    x1, y1 = min(int(np.ceil(bbox[2])), w), min(int(np.ceil(bbox[3])), h)
    return rgb[y0:y1, x0:x1]
