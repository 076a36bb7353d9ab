"""The tracking policy: which graphs run on a frame, which face is the primary one, when to check.

:class:`FaceTracker` keeps the state from frame to frame (mediapipe's own landmark tracking, the
primary face, the face count, the occlusion schedule) and returns one
:class:`~facelens.core.common.types.FaceObservation` per frame. The package docstring
(:mod:`facelens.core.face.tracking`) describes the rules and what they cost.
"""
from __future__ import annotations

from typing import Any, Self

import numpy as np

from facelens.core.common.types import FaceObservation, Quality
from facelens.core.face.tracking import adapter
from facelens.core.face.tracking.quality import (
    DEFAULT_BLUR_SIZE,
    DEFAULT_BLUR_THRESHOLD,
    DEFAULT_MIN_CONFIDENCE,
    MirrorCheck,
    OcclusionSchedule,
    bbox_of,
    blur_measure,
    frame_quality,
)

DEFAULT_OCCLUSION_EVERY = 4
DEFAULT_CLEAR_ABOVE = 0.75  # single_face (clean, frontal): 5th-75th percentile 0.78-0.86
DEFAULT_RECHECK_BELOW = 0.65
DEFAULT_RECHECK_AFTER_FLAG = 5
# Near the flag (below recheck_below, after a flag) every 2nd frame, not every frame: the confidence
# of such frames flips around min_confidence from one frame to the next, so a check 0.1 s older
# is as good a guess; it saves a third of the checks (docs/expressions.md, quality flags).
DEFAULT_RECHECK_EVERY = 2
DEFAULT_COUNT_EVERY = 5
_SWITCH_BACK = 3  # frames with one face before the several-face graph hands back (no flapping)


class FaceTracker:
    """Per-frame face mesh with a consistent primary face and quality flags.

    Parameters
    ----------
    static
        True for unrelated still images (mediapipe detects on every call; both schedules off).
    max_num_faces
        Faces looked for; the extra ones only count (``n_faces``), never replace the primary face.
    min_detection_confidence, min_tracking_confidence
        Passed to mediapipe's FaceMesh (and the detection threshold to the face counter).
    blur_threshold, blur_size
        ``MOTION_BLUR`` below this value of :func:`~.quality.blur_measure` on the face crop
        resized to ``blur_size`` pixels square.
    min_confidence
        ``confidence`` below which a frame is ``LOW_CONFIDENCE``.
    reacquire_radius
        How far (in face widths) the primary face may move between frames and still be recognised.
    occlusion_check
        Run the occlusion test at all (False: ``confidence`` is NaN, never flagged).
    occlusion_method
        ``"region"``: the landmark model on the mirrored face region (default); ``"detect"``: a
        static FaceMesh (detector + model) on the mirrored crop, the earlier test.
    disagreement_at_half
        Mirror disagreement (template cm) that gives confidence 0.5 (default: the method's own,
        :data:`~.quality.DEFAULT_DISAGREEMENT_AT_HALF`).
    occlusion_every, occlusion_every_clear, clear_above, recheck_below, recheck_after_flag, recheck_every
        The occlusion schedule (:class:`~.quality.OcclusionSchedule`; ``occlusion_every_clear``
        defaults to twice ``occlusion_every``, 1 when that is 1).
    count_every
        Frames between face counts while one face is tracked; 1 keeps one ``max_num_faces``
        graph (its detector runs on every frame).
    private_api
        Run mediapipe's graphs through the fast path of :class:`~.adapter.Graph` (same results).
    """

    def __init__(self, static: bool = False, max_num_faces: int = 3,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 blur_threshold: float = DEFAULT_BLUR_THRESHOLD, blur_size: int = DEFAULT_BLUR_SIZE,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, reacquire_radius: float = 1.0,
                 occlusion_check: bool = True, occlusion_method: str = "region",
                 disagreement_at_half: float | None = None,
                 occlusion_every: int = DEFAULT_OCCLUSION_EVERY, occlusion_every_clear: int | None = None,
                 clear_above: float = DEFAULT_CLEAR_ABOVE, recheck_below: float = DEFAULT_RECHECK_BELOW,
                 recheck_after_flag: int = DEFAULT_RECHECK_AFTER_FLAG, recheck_every: int = DEFAULT_RECHECK_EVERY,
                 count_every: int = DEFAULT_COUNT_EVERY, private_api: bool = True) -> None:
        if occlusion_method not in ("region", "detect"):
            raise ValueError(f"occlusion_method must be 'region' or 'detect', not {occlusion_method!r}")
        self.static = static
        self.blur_threshold, self.blur_size = float(blur_threshold), int(blur_size)
        self.min_confidence = float(min_confidence)
        self.reacquire_radius = float(reacquire_radius)
        self.occlusion_check = bool(occlusion_check)
        every = 1 if static else max(1, int(occlusion_every))
        if occlusion_every_clear is None:
            occlusion_every_clear = 1 if every == 1 else 2 * every
        self.schedule = OcclusionSchedule(every, 1 if static else occlusion_every_clear, clear_above,
                                          recheck_below, recheck_after_flag, self.min_confidence,
                                          1 if static else recheck_every)
        self.count_every = max(1, int(count_every))
        self._private = bool(private_api)
        # the adaptive face count needs a video, several faces to look for, and count_every > 1
        self._adaptive = not static and max_num_faces > 1 and self.count_every > 1
        self._multi_args: dict[str, Any] = {
            "static": static, "max_num_faces": max_num_faces, "private_api": self._private,
            "min_detection_confidence": min_detection_confidence,
            "min_tracking_confidence": min_tracking_confidence}
        # the adaptive tracker builds its several-face graph only when it first sees two faces:
        # most sessions never do, and a graph costs ~25 ms CPU to build and close (the pipeline
        # makes a fresh tracker every restart chunk). A graph built later starts in the same
        # state as one built now and never fed (the hand-over forgets it first either way).
        self._multi: adapter.Graph | None = None if self._adaptive else adapter.face_mesh(**self._multi_args)
        self._single = adapter.face_mesh(**{**self._multi_args, "static": False, "max_num_faces": 1}) \
            if self._adaptive else None
        self._detector = adapter.face_detector(min_detection_confidence=min_detection_confidence,
                                               private_api=self._private) if self._adaptive else None
        self.check: MirrorCheck | None = None
        if occlusion_check:
            graph = adapter.landmark_model(private_api=self._private) if occlusion_method == "region" \
                else adapter.face_mesh(**{**self._multi_args, "static": True, "min_tracking_confidence": 0.5})
            self.check = MirrorCheck(graph, occlusion_method == "region", disagreement_at_half)
        self._closed = False
        self._prev_centre: np.ndarray | None = None
        self._prev_width: float = float("nan")
        self._multi_mode = not self._adaptive
        self._one_face_run = 0  # several-face mode: consecutive frames with at most one face
        self._since_count: int | None = None  # None: count at the next face
        self._n_counted = 1
        # counts of the expensive steps, for benchmarks and tests
        self.stats: dict[str, int] = {"frames": 0, "mirror_checks": 0, "face_counts": 0, "multi_frames": 0}

    # -- public API ---------------------------------------------------------------------------
    def process(self, rgb: np.ndarray) -> FaceObservation:
        """Track the face in one upright RGB frame (H, W, 3) uint8."""
        if self._closed:
            raise RuntimeError("FaceTracker is closed")
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB frame, got {rgb.shape} {rgb.dtype}")
        rgb = np.ascontiguousarray(rgb)  # no copy when it already is (decoded frames are)
        self.stats["frames"] += 1
        meshes, n_faces = self._faces(rgb)
        if not meshes:
            self._prev_centre = None
            self.schedule.forget()
            return FaceObservation(quality=Quality.NO_FACE, n_faces=0)
        primary, same_face = self._choose_primary(meshes)
        mesh = meshes[primary]
        bbox = bbox_of(mesh)
        if not same_face:
            self.schedule.forget()  # a new primary face gets its own occlusion test
        self._prev_centre = (bbox[:2] + bbox[2:]) / 2
        self._prev_width = float(bbox[2] - bbox[0])
        blur = self.blur_measure(rgb, bbox)
        confidence = self._scheduled_confidence(rgb, mesh, bbox)
        quality = frame_quality(confidence, blur, n_faces, min_confidence=self.min_confidence,
                                blur_threshold=self.blur_threshold)
        return FaceObservation(quality=quality, landmarks=mesh.astype(np.float32),
                               bbox=bbox.astype(np.float32), confidence=float(confidence),
                               n_faces=n_faces, blur=float(blur))

    def reset(self) -> None:
        """Forget the primary face (e.g. after a seek); mediapipe re-detects on its own."""
        self._prev_centre = None
        self.schedule.forget()
        self._since_count = None

    def close(self) -> None:
        """Release mediapipe's graphs. Safe to call twice."""
        self._closed = True
        graphs = [self._multi, self._single, self._detector, self.check.graph if self.check else None]
        self._multi = self._single = self._detector = self.check = None
        for graph in graphs:
            if graph is not None:
                graph.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- quality measures -----------------------------------------------------------------------
    def blur_measure(self, rgb: np.ndarray, bbox: np.ndarray) -> float:
        """:func:`~.quality.blur_measure` with this tracker's ``blur_size``."""
        return blur_measure(rgb, bbox, self.blur_size)

    def mirror_disagreement(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """:meth:`~.quality.MirrorCheck.disagreement` of this tracker's occlusion test."""
        if self.check is None:
            raise RuntimeError("this FaceTracker was made with occlusion_check=False (or is closed)")
        return self.check.disagreement(rgb, mesh, bbox)

    def _confidence(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        assert self.check is not None
        return self.check.confidence(rgb, mesh, bbox)

    def _scheduled_confidence(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """Measured confidence when the occlusion schedule says so, else the last measured one."""
        if not self.occlusion_check:
            return float("nan")
        if not self.schedule.due():
            return self.schedule.held  # type: ignore[return-value]
        conf = self._confidence(rgb, mesh, bbox)
        self.stats["mirror_checks"] += 1
        self.schedule.measured(conf)
        return conf

    # -- faces ----------------------------------------------------------------------------------
    @staticmethod
    def _run(graph: adapter.Graph, rgb: np.ndarray) -> list[np.ndarray]:
        h, w = rgb.shape[:2]
        return [adapter.landmarks_px(f, w, h) for f in graph.run({"image": rgb}, "multi_face_landmarks")]

    def _faces(self, rgb: np.ndarray) -> tuple[list[np.ndarray], int]:
        """All meshes of this frame (the primary among them) and the number of faces."""
        if self._multi_mode:
            assert self._multi is not None
            meshes = self._run(self._multi, rgb)
            self.stats["multi_frames"] += 1
            if self._adaptive:
                self._one_face_run = self._one_face_run + 1 if len(meshes) <= 1 else 0
                if self._one_face_run >= _SWITCH_BACK:
                    self._multi_mode = False
                    self._since_count = 0  # it just counted; the next count follows the schedule
                    self._n_counted = 1
                    self._single.forget()  # type: ignore[union-attr]
            return meshes, len(meshes)
        assert self._single is not None and self._detector is not None
        meshes = self._run(self._single, rgb)
        if not meshes:
            self._since_count = None
            return meshes, 0
        if self._since_count is None or self._since_count >= self.count_every - 1:
            self.stats["face_counts"] += 1
            found = self._detector.run({"image": rgb}, "detections")
            self._n_counted, self._since_count = max(len(found), 1), 0
        else:
            self._since_count += 1
        if self._n_counted >= 2:
            # hand over to the several-face graph on this very frame, so that the primary face
            # follows the documented rule (nearest the previous one, else the largest)
            self._multi_mode, self._one_face_run = True, 0
            if self._multi is None:
                self._multi = adapter.face_mesh(**self._multi_args)
            self._multi.forget()
            self.stats["multi_frames"] += 1
            multi = self._run(self._multi, rgb)
            if multi:
                return multi, max(len(multi), self._n_counted)
        return meshes, self._n_counted

    def _choose_primary(self, meshes: list[np.ndarray]) -> tuple[int, bool]:
        """Index of the primary face, and whether it is the previous frame's primary face."""
        boxes = [bbox_of(m) for m in meshes]
        if self._prev_centre is not None:
            centres = np.array([(b[:2] + b[2:]) / 2 for b in boxes])
            d = np.linalg.norm(centres - self._prev_centre, axis=1)
            best = int(np.argmin(d))
            if d[best] <= self.reacquire_radius * self._prev_width:
                return best, True
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
        return int(np.argmax(areas)), False
