"""Quality measures of a tracked face: the occlusion test and its schedule, blur, the flag rule.

Occlusion (``LOW_CONFIDENCE``). mediapipe's FaceMesh gives no per-frame score, so the tracker
asks for a second opinion: the landmark model is run once more on the *mirrored* face, on the
tracked face's region mirrored (the same model, no detector: :func:`~.adapter.landmark_model`).
Mapped back, the two meshes agree closely on a visible face and disagree where the model guesses
behind an occluder: the lower-face RMS distance ``D`` (template cm, each mesh pose-normalised
on its own) gives ``confidence = clip(1 - D / (2 * disagreement_at_half), 0, 1)``; no face
found in the mirrored region gives 0. Earlier versions ran a whole FaceMesh (detector, then the
landmark model, in static mode) on the mirrored crop; the region version skips the detector
and its start-up cost per call. How ``disagreement_at_half`` was chosen and what it flags:
``docs/expressions.md``, "Quality flags".

:class:`OcclusionSchedule` decides on which frames the test runs (see :class:`FaceTracker
<facelens.core.face.tracking.policy.FaceTracker>`); frames in between carry the last value.
"""
from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np

from facelens.core.common.types import Quality
from facelens.core.face.tracking.adapter import Graph, landmarks_px, region

# The blur measure (:func:`blur_measure`) and its threshold, set on the 20 unlabelled corpus clips:
# 0.85 is the largest value in steps of 0.05 that flags none of their 2,818 analysed frames with a
# face (lowest 0.88; 1.0 flagged 16, closed eyes and open mouths on the softest, beauty-filtered
# faces). Of 500 of those frames (25 per clip) with a motion streak of 5 % / 10 % of the face width
# it flags 93 % / 99.8 % (horizontal), 98.8 % (vertical), 100 % (diagonal); with gain 0.7, gamma
# 0.7 / 1.4 or a light gradient none. The earlier measure (plain Laplacian variance) at 25 flagged
# 24 % / 45 % of the horizontal streaks, and 14 % of the frames at gain 0.7, 5 % at gamma 1.4
# (docs/expressions.md, "Quality flags").
DEFAULT_BLUR_THRESHOLD = 0.85
DEFAULT_BLUR_SIZE = 128
#: How the blur measure is computed, recorded in every results file's ``params`` (``blur_measure``)
#: with the thresholds (:func:`gate_settings`).
BLUR_MEASURE = "local-contrast-directional-1"
#: The plain variance of the Laplacian: what a results file without the key was measured with.
BLUR_MEASURE_BEFORE = "laplacian-variance"
_CONTRAST_SIGMA = 12.0 / 128  # scale of the local contrast, as a fraction of the crop side
_CONTRAST_FLOOR = 2.0  # grey levels added to the local contrast (keeps flat skin from amplifying noise)
DEFAULT_MIN_CONFIDENCE = 0.5
# Disagreement (template cm) at confidence 0.5, per test. "detect": chosen on the test clips
# (docs/expressions.md). "region": about the value that flags the same share of the corpus's
# frames as "detect" (media/corpus, 26 clips, 3290 sampled frames with a face, every frame checked:
# 0.395 matches 9.7 %; 0.40 flags 8.9 %); the test clips were not used.
DEFAULT_DISAGREEMENT_AT_HALF = {"region": 0.40, "detect": 0.45}
_EYE_OUTER = (33, 263)  # the points mediapipe turns its face region by
# Region side / the tracked mesh's longer bounding-box side. FaceMesh tracks with 1.5; on the
# corpus clip with labelled hand occlusion (styletalk_nice_clip1, 0.7-2.1 s and ~6.4 s: 21 frames)
# 1.5 flagged 60 of its 64 other frames too; 1.3 (14/21 inside, 17/64 outside) and 1.2 (13/21,
# 17/64) separated them best.
REGION_SCALE = 1.3


@lru_cache(maxsize=1)
def mirror_index() -> np.ndarray:
    """Landmark i's left-right counterpart, from the (exactly symmetric) template."""
    from facelens.core.face.geometry import template

    t = template()
    mirrored = t * np.array([-1.0, 1.0, 1.0])
    d = ((mirrored[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(d, axis=1)


@lru_cache(maxsize=1)
def lower_face() -> np.ndarray:
    """Landmarks below the nose tip: mouth, chin, lower cheeks."""
    from facelens.core.face.geometry import template

    return np.flatnonzero(template()[:, 1] < -1.0)


def context_crop(rgb: np.ndarray, bbox: np.ndarray) -> tuple[int, int, np.ndarray | None]:
    """(x0, y0, crop): the face box with half its longer side of context on every side, clipped to
    the frame (a view, not a copy); crop None when that leaves under 8 pixels either way."""
    h, w = rgb.shape[:2]
    m = 0.5 * max(bbox[2] - bbox[0], bbox[3] - bbox[1])
    x0, y0 = int(max(bbox[0] - m, 0)), int(max(bbox[1] - m, 0))
    x1, y1 = int(min(bbox[2] + m, w)), int(min(bbox[3] + m, h))
    return x0, y0, (rgb[y0:y1, x0:x1] if y1 - y0 >= 8 and x1 - x0 >= 8 else None)


def face_region(mesh: np.ndarray, w: int, h: int) -> Any:
    """The landmark model's face region for a mesh (pixels of a ``w`` x ``h`` image): a square of
    :data:`REGION_SCALE` times the mesh's longer box side, turned by the eye line."""
    lo, hi = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    a, b = mesh[_EYE_OUTER[0]], mesh[_EYE_OUTER[1]]
    return region(float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2, REGION_SCALE * float(max(hi - lo)),
                  float(-np.arctan2(-(b[1] - a[1]), b[0] - a[0])), w, h)


class MirrorCheck:
    """The occlusion test: the landmark model's second opinion on the mirrored face.

    Parameters
    ----------
    graph
        :func:`~facelens.core.face.tracking.adapter.landmark_model` (with iris refinement, the
        tracking mesh's model), or a static :func:`~facelens.core.face.tracking.adapter.face_mesh`
        (the earlier, detector-driven test).
    by_region
        True for the landmark model on the mirrored region, False for the static FaceMesh.
    disagreement_at_half
        Disagreement (template cm) that gives confidence 0.5 (default: the test's own,
        :data:`DEFAULT_DISAGREEMENT_AT_HALF`).
    """

    def __init__(self, graph: Graph, by_region: bool, disagreement_at_half: float | None = None) -> None:
        self.graph, self.by_region = graph, bool(by_region)
        if disagreement_at_half is None:
            disagreement_at_half = DEFAULT_DISAGREEMENT_AT_HALF["region" if by_region else "detect"]
        self.disagreement_at_half = float(disagreement_at_half)

    def confidence(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """Landmark confidence in [0, 1] (0: the model finds no face in the mirrored region)."""
        d = self.disagreement(rgb, mesh, bbox)
        if not np.isfinite(d):
            return 0.0
        return float(np.clip(1.0 - d / (2.0 * self.disagreement_at_half), 0.0, 1.0))

    def disagreement(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """RMS distance (template cm) between the lower-face shape of ``mesh`` and of the mesh the
        model finds on the mirrored face, each pose-normalised on its own; NaN when it finds none."""
        import cv2

        from facelens.core.face.geometry import posefree_fit

        x0, y0, unmirrored = context_crop(rgb, bbox)
        if unmirrored is None:
            return float("nan")
        crop = cv2.flip(unmirrored, 1)  # numpy's [:, ::-1] copy is ~30x slower
        mine = mesh - np.array([x0, y0, 0.0])
        other = self._by_region(crop, mine) if self.by_region else self._by_detection(crop, bbox, x0, y0)
        if other is None:
            return float("nan")
        p, q = posefree_fit(mine)[lower_face()], posefree_fit(other)[lower_face()]
        return float(np.sqrt(((p - q) ** 2).sum(axis=1).mean()))

    def _by_region(self, crop: np.ndarray, mine: np.ndarray) -> np.ndarray | None:
        """The model's mesh on the mirrored crop, from the tracked mesh's region mirrored; back in
        unmirrored crop coordinates with the landmark indices swapped back."""
        ch, cw = crop.shape[:2]
        mirrored = mine[mirror_index()]  # the tracked mesh as the mirrored face's mesh
        mirrored[:, 0] = cw - mirrored[:, 0]
        found = self.graph.run({"image": crop, "roi": face_region(mirrored, cw, ch)}, "face_landmarks")
        if not found:
            return None
        other = landmarks_px(found[0], cw, ch)
        other[:, 0] = cw - other[:, 0]
        return other[mirror_index()]

    def _by_detection(self, crop: np.ndarray, bbox: np.ndarray, x0: int, y0: int) -> np.ndarray | None:
        """The same from a static FaceMesh (detector, then the landmark model) on the mirrored
        crop: the found face nearest the tracked face's centre."""
        ch, cw = crop.shape[:2]
        cands = [landmarks_px(f, cw, ch) for f in self.graph.run({"image": crop}, "multi_face_landmarks")]
        if not cands:
            return None
        centre = np.array([(bbox[0] + bbox[2]) / 2 - x0, (bbox[1] + bbox[3]) / 2 - y0])
        for c in cands:
            c[:, 0] = cw - c[:, 0]
        cands = [c[mirror_index()] for c in cands]
        return min(cands, key=lambda c: float(np.linalg.norm(c[:, :2].mean(0) - centre)))


class OcclusionSchedule:
    """When the occlusion test runs: on the first frame of a face; then every ``every_clear``-th
    frame while the last confidence is at least ``clear_above``, every ``every``-th below that,
    and every ``recheck_every``-th frame below ``recheck_below`` and on the ``recheck_after_flag``
    frames after a flagged one (below ``min_confidence``)."""

    def __init__(self, every: int, every_clear: int, clear_above: float, recheck_below: float,
                 recheck_after_flag: int, min_confidence: float, recheck_every: int = 1) -> None:
        self.every, self.every_clear = max(1, int(every)), max(1, int(every_clear))
        self.recheck_every = max(1, int(recheck_every))
        self.clear_above, self.recheck_below = float(clear_above), float(recheck_below)
        self.recheck_after_flag, self.min_confidence = int(recheck_after_flag), float(min_confidence)
        self.held: float | None = None  # last measured confidence of the current face
        self._since_check = 0
        self._since_flag = 1 << 30

    def forget(self) -> None:
        """A new face (or none): the next frame with a face is measured."""
        self.held = None

    def due(self) -> bool:
        """Whether this frame is measured; when not, it carries :attr:`held`."""
        held = self.held
        every = self.every_clear if held is not None and held >= self.clear_above else self.every
        near = held is not None and (held < self.recheck_below or self._since_flag < self.recheck_after_flag)
        if held is None or self._since_check >= every - 1 or (near and self._since_check >= self.recheck_every - 1):
            return True
        self._since_check += 1
        self._since_flag += 1
        return False

    def measured(self, confidence: float) -> None:
        """Record this frame's measured confidence."""
        self.held, self._since_check = confidence, 0
        self._since_flag = 0 if confidence < self.min_confidence else self._since_flag + 1


def gate_settings() -> dict[str, Any]:
    """The tracker's quality-gate settings as every results file's ``params`` records them: frames
    gated otherwise are not mixed with these (resume, batch reuse, the demo's reuse and the
    validity harness's cache compare them)."""
    return {"blur_measure": BLUR_MEASURE, "blur_threshold": DEFAULT_BLUR_THRESHOLD,
            "min_confidence": DEFAULT_MIN_CONFIDENCE}


def recorded_gates(params: Mapping[str, Any]) -> dict[str, Any]:
    """The :func:`gate_settings` a results file's ``params`` (or a demo manifest's entry) records;
    files written before the blur measure was recorded get :data:`BLUR_MEASURE_BEFORE`."""
    return {"blur_measure": str(params.get("blur_measure", BLUR_MEASURE_BEFORE)),
            "blur_threshold": params.get("blur_threshold"), "min_confidence": params.get("min_confidence")}


def blur_measure(rgb: np.ndarray, bbox: np.ndarray, size: int) -> float:
    """Sharpness of the face in its least sharp direction; NaN for an empty crop.

    The grey face crop, resized to ``size`` square, has each pixel's deviation from the local mean
    divided by the local contrast (the SD around that mean, over about a tenth of the crop). The
    measure is the smallest, over four directions (horizontal, vertical, both diagonals), of the
    variance of that image's second difference along the direction, times 100.

    * Dividing by the local contrast takes out the exposure: a gain, a gamma or a light gradient
      scales the fine detail and the local contrast alike. The earlier measure, the plain variance
      of the Laplacian, halved with a gain of 0.7 and so flagged sharp but dim faces.
    * The smallest direction catches motion blur, which smears detail along one direction only:
      the Laplacian sums all directions and kept the detail across the streak.

    The local statistics are computed at a quarter of the resolution (a full-resolution Gaussian
    of this size costs several times as much), and the crop is turned grey before it is resized.
    Shared by both tracking backends so that they flag the same frames as motion-blurred.
    """
    import cv2

    crop = _crop(rgb, bbox)
    if crop.size == 0:
        return float("nan")
    # grey first: the area resize then reads one channel instead of three (0.24 against 0.44 ms per
    # crop; both steps are linear, so the order changes only the rounding)
    grey = cv2.resize(cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY), (size, size),
                      interpolation=cv2.INTER_AREA).astype(np.float32)
    detail = grey - _local_mean(grey, size)
    normed = detail / (np.sqrt(np.maximum(_local_mean(detail * detail, size), 0.0)) + _CONTRAST_FLOOR)
    spread = []
    for k in _second_differences():
        inner = cv2.filter2D(normed, cv2.CV_32F, k)[2:-2, 2:-2]  # the reflected border left out
        spread.append(float(cv2.meanStdDev(inner)[1][0, 0]) ** 2)
    return 100.0 * min(spread)


@lru_cache(maxsize=1)
def _second_differences() -> tuple[np.ndarray, ...]:
    """3x3 second-difference kernels along x, y and the two diagonals (those per unit length)."""
    xx = np.array([[0, 0, 0], [1, -2, 1], [0, 0, 0]], np.float32)
    d1 = np.array([[1, 0, 0], [0, -2, 0], [0, 0, 1]], np.float32) / 2
    return xx, np.ascontiguousarray(xx.T), d1, np.ascontiguousarray(d1[:, ::-1])


def _local_mean(img: np.ndarray, size: int) -> np.ndarray:
    """Gaussian local mean (SD :data:`_CONTRAST_SIGMA` of the side) computed at a quarter of the
    resolution and brought back to ``size`` square."""
    import cv2

    q = max(4, size // 4)
    low = cv2.resize(img, (q, q), interpolation=cv2.INTER_AREA)
    low = cv2.GaussianBlur(low, (0, 0), _CONTRAST_SIGMA * q)
    return cv2.resize(low, (size, size), interpolation=cv2.INTER_LINEAR)


def frame_quality(confidence: float, blur: float, n_faces: int, *, min_confidence: float,
                  blur_threshold: float) -> Quality:
    """Quality code of a frame with a tracked face, the same rule for both backends.

    Checked in order of severity: low confidence (occlusion / poor fit), then motion blur, then
    other faces in view; a NaN blur (empty crop) does not count as blurred.
    """
    if confidence < min_confidence:
        return Quality.LOW_CONFIDENCE
    if blur < blur_threshold:
        return Quality.MOTION_BLUR
    if n_faces > 1:
        return Quality.MULTIPLE_FACES
    return Quality.OK


def bbox_of(mesh: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) of a mesh's points."""
    return np.array([mesh[:, 0].min(), mesh[:, 1].min(), mesh[:, 0].max(), mesh[:, 1].max()])


def _crop(rgb: np.ndarray, bbox: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    x0, y0 = max(int(np.floor(bbox[0])), 0), max(int(np.floor(bbox[1])), 0)
    x1, y1 = min(int(np.ceil(bbox[2])), w), min(int(np.ceil(bbox[3])), h)
    return rgb[y0:y1, x0:x1]
