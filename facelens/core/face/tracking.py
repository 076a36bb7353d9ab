"""Face tracking: mediapipe's 478-point face mesh per sampled frame, with quality flags.

``FaceTracker.process`` is called once per sampled frame, in order (the tracker keeps state:
mediapipe's own landmark tracking and the identity of the primary face). Each call returns a
:class:`~facelens.core.common.types.FaceObservation`:

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
  gives 0.
* ``MOTION_BLUR`` — the variance of the Laplacian of the face crop, resized to ``blur_size``
  pixels square, is below ``blur_threshold``.

Cost (``benchmarks/tracking_speed.py``): the mirrored second opinion costs more than the tracking
mesh itself (CPU ms per frame on this busy 2-core machine: mesh ~4-5.5, mirror check ~8), and a
FaceMesh graph asked for several faces runs its face detector on *every* frame while it sees fewer
faces than that (~2 ms). Two schedules keep the flags at a fraction of that cost (video mode only;
``static=True`` checks every image):

* Occlusion: the mirror check runs when the track starts or its primary face changes; then every
  ``occlusion_every_clear``-th frame while the last measured confidence is at least
  ``clear_above``, every ``occlusion_every``-th frame below that, every frame while it is below
  ``recheck_below`` (at 10 fps an occlusion builds up over several frames and the confidence sinks
  through these bands first), and on the ``recheck_after_flag`` frames after a flagged one
  (occlusions last many frames). Frames in between carry the last measured confidence, so an
  occlusion's onset is flagged at most ``occlusion_every_clear - 1`` frames late. The bands were
  chosen by replaying the every-frame confidences of the four test clips (Wolfgang 197 sampled
  frames with 48 flagged, single_face 24/0, liveportrait_d3 118/2, noface_face 24 faces/0): the
  defaults flag exactly the same frames with 47 % of the checks (single_face: 3 of 24); every
  4th frame without the bands missed 11 of 48. A lower-face appearance-change cue (normalised
  8x16 thumbnail difference) added no hits in that replay and was left out.
* Face count (``count_every``): a one-face FaceMesh graph tracks the face (no detector while
  tracking); mediapipe's short-range face detector counts the faces when the track starts and every
  ``count_every``-th frame (the count is carried in between). When it sees two or more, a
  ``max_num_faces`` graph takes over (every frame, primary face chosen as above) until it has seen
  one face on ``_SWITCH_BACK`` frames in a row.

``occlusion_every=1, count_every=1`` gives the original every-frame behaviour. Measured in one
run (load average 12 on 2 cores), CPU ms per sampled frame, original -> defaults: all four clips
14.8 -> 8.8, single_face 14.5 -> 6.2, Wolfgang (occluded most of the time) 16.0 -> 11.0, with the
same LOW_CONFIDENCE frames and identical landmarks. Caveat: the bands were tuned on the same
short clips the tests use; a fast occluder on a clean face is flagged up to 0.7 s late at 10 fps.
Where the rest goes (profiled on the Wolfgang clip at load < 1, CPU ms per sampled frame): the
tracking mesh 3.4, the mirror checks 4.1 (their mesh 3.4, pose fits and crop 0.7), the face count
0.4, the blur measure 0.6 (mostly the INTER_AREA resize), wire-format reading 0.2. mediapipe's
``add_packet_to_input_stream`` costs ~0.04 ms CPU: the frame (contiguous uint8 RGB) is copied once
into an ImageFrame (~0.09 ms) and the graph crops the face region itself; the milliseconds a
profiler shows there are wall time spent retaking the GIL from the pipeline's other threads.
Three things were cut without changing any output: the mirror crop is flipped with
``cv2.flip`` (numpy copied the negative-stride view element by element, ~0.9 ms), the graphs
run without the solution API's per-call namedtuple and message parsing (:func:`_serialized`),
and the several-face graph is built only when needed.
``EXTREME_POSE`` is decided by :func:`facelens.core.face.geometry.apply_pose_quality`.
mediapipe and OpenCV are imported lazily (the first tracker costs ~0.5 s to start).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Self

import numpy as np

from facelens.core.common.types import N_LANDMARKS, FaceObservation, Quality

# Default thresholds (measured on the recordings in shared/media; see docs/expressions.md,
# "Quality flags", for the figures behind them).
DEFAULT_BLUR_THRESHOLD = 25.0
DEFAULT_BLUR_SIZE = 128
DEFAULT_MIN_CONFIDENCE = 0.5
DEFAULT_DISAGREEMENT_AT_HALF = 0.45  # cm (template units): confidence 0.5 at this disagreement
# Schedules (module docstring: replayed on every-frame confidences of four clips, these flag
# exactly the frames the every-frame check flags).
DEFAULT_OCCLUSION_EVERY = 4
DEFAULT_CLEAR_ABOVE = 0.75  # single_face (clean, frontal): 5th-75th percentile 0.78-0.86
DEFAULT_RECHECK_BELOW = 0.65
DEFAULT_RECHECK_AFTER_FLAG = 5
DEFAULT_COUNT_EVERY = 5
_SWITCH_BACK = 3  # frames with one face before the several-face graph hands back (no flapping)

# One serialised NormalizedLandmark inside a NormalizedLandmarkList, as FaceMesh writes it: field 1
# (tag 0x0a, length 15) holding x, y, z as fixed32 fields 1-3 (tags 0x0d, 0x15, 0x1d).
_LANDMARK_WIRE = np.dtype([("tag", "u1"), ("len", "u1"), ("tx", "u1"), ("x", "<f4"),
                           ("ty", "u1"), ("y", "<f4"), ("tz", "u1"), ("z", "<f4")])


@lru_cache(maxsize=1)
def _mirror_index() -> np.ndarray:
    """Landmark i's left-right counterpart, from the (exactly symmetric) template."""
    from facelens.core.face.geometry import template

    t = template()
    mirrored = t * np.array([-1.0, 1.0, 1.0])
    d = ((mirrored[:, None, :] - t[None, :, :]) ** 2).sum(axis=2)
    return np.argmin(d, axis=1)


@lru_cache(maxsize=1)
def _lower_face() -> np.ndarray:
    from facelens.core.face.geometry import template

    return np.flatnonzero(template()[:, 1] < -1.0)  # below the nose tip: mouth, chin, lower cheeks


class FaceTracker:
    """Per-frame face mesh with a consistent primary face and quality flags.

    Parameters
    ----------
    static
        True for unrelated still images (mediapipe runs detection on every call; both schedules
        are off).
    max_num_faces
        Faces mediapipe looks for; the extra ones only count (``n_faces``) and never replace the
        primary face.
    min_detection_confidence, min_tracking_confidence
        Passed to mediapipe's FaceMesh (and the detection threshold to the face counter).
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
    occlusion_check
        Run the mirrored second opinion at all (False: ``confidence`` is NaN, never flagged).
    disagreement_at_half
        Mirror disagreement (template cm) that gives confidence 0.5.
    occlusion_every
        At most this many frames between two mirror checks (1: every frame, the original).
    occlusion_every_clear
        The same while the last confidence is at least ``clear_above``; default twice
        ``occlusion_every`` (1 when that is 1).
    clear_above
        Confidence above which a face counts as clearly visible.
    recheck_below
        Check every frame while the last measured confidence is below this.
    recheck_after_flag
        Check every frame for this many frames after a flagged check.
    count_every
        Frames between face counts while one face is tracked; 1 keeps the original single
        ``max_num_faces`` graph (its detector runs on every frame).
    """

    def __init__(self, static: bool = False, max_num_faces: int = 3,
                 min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5,
                 blur_threshold: float = DEFAULT_BLUR_THRESHOLD, blur_size: int = DEFAULT_BLUR_SIZE,
                 min_confidence: float = DEFAULT_MIN_CONFIDENCE, reacquire_radius: float = 1.0,
                 occlusion_check: bool = True,
                 disagreement_at_half: float = DEFAULT_DISAGREEMENT_AT_HALF,
                 occlusion_every: int = DEFAULT_OCCLUSION_EVERY,
                 occlusion_every_clear: int | None = None,
                 clear_above: float = DEFAULT_CLEAR_ABOVE,
                 recheck_below: float = DEFAULT_RECHECK_BELOW,
                 recheck_after_flag: int = DEFAULT_RECHECK_AFTER_FLAG,
                 count_every: int = DEFAULT_COUNT_EVERY) -> None:
        import mediapipe as mp

        self.static = static
        self.blur_threshold = float(blur_threshold)
        self.blur_size = int(blur_size)
        self.min_confidence = float(min_confidence)
        self.reacquire_radius = float(reacquire_radius)
        self.occlusion_check = bool(occlusion_check)
        self.disagreement_at_half = float(disagreement_at_half)
        self.occlusion_every = 1 if static else max(1, int(occlusion_every))
        if occlusion_every_clear is None:
            occlusion_every_clear = 1 if self.occlusion_every == 1 else 2 * self.occlusion_every
        self.occlusion_every_clear = 1 if static else max(1, int(occlusion_every_clear))
        self.clear_above = float(clear_above)
        self.recheck_below = float(recheck_below)
        self.recheck_after_flag = int(recheck_after_flag)
        self.count_every = max(1, int(count_every))
        fm = mp.solutions.face_mesh
        # the adaptive face count needs a video, several faces to look for, and count_every > 1
        self._adaptive = not static and max_num_faces > 1 and self.count_every > 1
        self._multi_args: dict[str, Any] = {
            "static_image_mode": static, "max_num_faces": max_num_faces, "refine_landmarks": True,
            "min_detection_confidence": min_detection_confidence,
            "min_tracking_confidence": min_tracking_confidence}
        # the adaptive tracker builds its several-face graph only when it first sees two faces:
        # most sessions never do, and a graph costs ~25 ms CPU to build and close (the pipeline
        # makes a fresh tracker every restart chunk). A graph built later starts in the same
        # state as one built now and never fed (the hand-over _forgets it first either way).
        self._multi: Any = None if self._adaptive else fm.FaceMesh(**self._multi_args)
        self._single: Any = fm.FaceMesh(
            static_image_mode=False, max_num_faces=1, refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence) if self._adaptive else None
        self._detector: Any = mp.solutions.face_detection.FaceDetection(
            model_selection=0, min_detection_confidence=min_detection_confidence) \
            if self._adaptive else None
        # second opinion for the occlusion test: a fresh (detector-driven) mesh on the mirror image
        self._mirror_mesh: Any = fm.FaceMesh(
            static_image_mode=True, max_num_faces=max_num_faces, refine_landmarks=True,
            min_detection_confidence=min_detection_confidence) if occlusion_check else None
        self._closed = False
        self._prev_centre: np.ndarray | None = None
        self._prev_width: float = float("nan")
        self._multi_mode = not self._adaptive
        self._one_face_run = 0  # several-face mode: consecutive frames with at most one face
        self._since_count: int | None = None  # None: count at the next face
        self._n_counted = 1
        self._held_conf: float | None = None  # last measured confidence of the current primary
        self._since_check = 0
        self._since_flag = 1 << 30
        # counts of the expensive steps, for benchmarks and tests
        self.stats: dict[str, int] = {"frames": 0, "mirror_checks": 0, "face_counts": 0,
                                      "multi_frames": 0}

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
            self._held_conf = None
            return FaceObservation(quality=Quality.NO_FACE, n_faces=0)
        primary, same_face = self._choose_primary(meshes)
        mesh = meshes[primary]
        bbox = _bbox(mesh)
        if not same_face:
            self._held_conf = None  # a new primary face gets its own mirror check
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
        self._held_conf = None
        self._since_count = None

    def close(self) -> None:
        """Release mediapipe's graphs. Safe to call twice."""
        self._closed = True
        for name in ("_multi", "_single", "_detector", "_mirror_mesh"):
            graph = getattr(self, name)
            if graph is not None:
                graph.close()
                setattr(self, name, None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- faces ----------------------------------------------------------------------------------
    @staticmethod
    def _run(graph: Any, rgb: np.ndarray) -> list[np.ndarray]:
        h, w = rgb.shape[:2]
        return [_to_pixels(f, w, h) for f in _serialized(graph, rgb, "multi_face_landmarks")]

    def _faces(self, rgb: np.ndarray) -> tuple[list[np.ndarray], int]:
        """All meshes of this frame (the primary among them) and the number of faces."""
        if self._multi_mode:
            meshes = self._run(self._multi, rgb)
            self.stats["multi_frames"] += 1
            if self._adaptive:
                self._one_face_run = self._one_face_run + 1 if len(meshes) <= 1 else 0
                if self._one_face_run >= _SWITCH_BACK:
                    self._multi_mode = False
                    self._since_count = 0  # it just counted; the next count follows the schedule
                    self._n_counted = 1
                    _forget(self._single)
            return meshes, len(meshes)
        meshes = self._run(self._single, rgb)
        if not meshes:
            self._since_count = None
            return meshes, 0
        if self._since_count is None or self._since_count >= self.count_every - 1:
            self.stats["face_counts"] += 1
            found = _serialized(self._detector, rgb, "detections")
            self._n_counted, self._since_count = max(len(found), 1), 0
        else:
            self._since_count += 1
        if self._n_counted >= 2:
            # hand over to the several-face graph on this very frame, so that the primary face
            # follows the documented rule (nearest the previous one, else the largest)
            self._multi_mode, self._one_face_run = True, 0
            if self._multi is None:
                import mediapipe as mp

                self._multi = mp.solutions.face_mesh.FaceMesh(**self._multi_args)
            _forget(self._multi)
            self.stats["multi_frames"] += 1
            multi = self._run(self._multi, rgb)
            if multi:
                return multi, max(len(multi), self._n_counted)
        return meshes, self._n_counted

    def _choose_primary(self, meshes: list[np.ndarray]) -> tuple[int, bool]:
        """Index of the primary face, and whether it is the previous frame's primary face."""
        boxes = [_bbox(m) for m in meshes]
        if self._prev_centre is not None:
            centres = np.array([(b[:2] + b[2:]) / 2 for b in boxes])
            d = np.linalg.norm(centres - self._prev_centre, axis=1)
            best = int(np.argmin(d))
            if d[best] <= self.reacquire_radius * self._prev_width:
                return best, True
        areas = [(b[2] - b[0]) * (b[3] - b[1]) for b in boxes]
        return int(np.argmax(areas)), False

    # -- quality measures -----------------------------------------------------------------------
    def blur_measure(self, rgb: np.ndarray, bbox: np.ndarray) -> float:
        """:func:`blur_measure` with this tracker's ``blur_size``."""
        return blur_measure(rgb, bbox, self.blur_size)

    def _scheduled_confidence(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """Measured confidence when the occlusion schedule says so, else the last measured one."""
        if not self.occlusion_check:
            return float("nan")
        held = self._held_conf
        every = self.occlusion_every_clear if held is not None and held >= self.clear_above \
            else self.occlusion_every
        due = (held is None or self._since_check >= every - 1 or held < self.recheck_below
               or self._since_flag < self.recheck_after_flag)
        if not due:
            self._since_check += 1
            self._since_flag += 1
            return held  # type: ignore[return-value]
        conf = self._confidence(rgb, mesh, bbox)
        self.stats["mirror_checks"] += 1
        self._held_conf, self._since_check = conf, 0
        self._since_flag = 0 if conf < self.min_confidence else self._since_flag + 1
        return conf

    def _confidence(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """Landmark confidence in [0, 1] from a mirrored second opinion (see module docstring)."""
        d = self.mirror_disagreement(rgb, mesh, bbox)
        if not np.isfinite(d):
            return 0.0  # a face the tracker sees but a fresh detection on the mirror image does not
        return float(np.clip(1.0 - d / (2.0 * self.disagreement_at_half), 0.0, 1.0))

    def mirror_disagreement(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        """RMS distance (template cm) between the lower-face shape of ``mesh`` and of the mesh found
        afresh on the mirrored face crop, each pose-normalised on its own; NaN when no face is
        found there."""
        import cv2

        from facelens.core.face.geometry import posefree_fit

        if self._mirror_mesh is None:
            raise RuntimeError("this FaceTracker was made with occlusion_check=False")
        h, w = rgb.shape[:2]
        bw, bh = bbox[2] - bbox[0], bbox[3] - bbox[1]
        m = 0.5 * max(bw, bh)  # margin: mediapipe's detector needs some context around the face
        x0, y0 = int(max(bbox[0] - m, 0)), int(max(bbox[1] - m, 0))
        x1, y1 = int(min(bbox[2] + m, w)), int(min(bbox[3] + m, h))
        if y1 - y0 < 8 or x1 - x0 < 8:
            return float("nan")
        # the same pixels as np.ascontiguousarray(view[:, ::-1]), but numpy copies a negative
        # stride 3-byte element by element (~0.9 ms for a 360x340 crop); cv2.flip ~0.03 ms
        crop = cv2.flip(rgb[y0:y1, x0:x1], 1)
        cands = self._run(self._mirror_mesh, crop)
        if not cands:
            return float("nan")
        cw = crop.shape[1]
        centre = np.array([(bbox[0] + bbox[2]) / 2 - x0, (bbox[1] + bbox[3]) / 2 - y0])
        for c in cands:  # back to unmirrored crop coordinates, landmark indices swapped L<->R
            c[:, 0] = cw - c[:, 0]
        cands = [c[_mirror_index()] for c in cands]
        other = min(cands, key=lambda c: float(np.linalg.norm(c[:, :2].mean(0) - centre)))
        mine = mesh - np.array([x0, y0, 0.0])
        a = posefree_fit(mine)[_lower_face()]
        b = posefree_fit(other)[_lower_face()]
        return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))


def _forget(graph: Any) -> None:
    """Drop a tracking FaceMesh graph's tracked faces (the legacy API has no reset): a frame
    without a face makes it detect afresh on the next frame, instead of starting from a region
    it tracked long ago (about 2 ms)."""
    graph.process(np.zeros((64, 64, 3), np.uint8))


def _serialized(solution: Any, rgb: np.ndarray, stream: str) -> list[bytes]:
    """The messages of output ``stream`` after ``solution.process(rgb)``, serialized.

    The same graph run as mediapipe's solution API, without its per-call Python cost: it builds a
    namedtuple type on every call and parses every message into a Python object, which
    :func:`_to_pixels` would serialise again (~0.15 ms a call, 1.9 calls a frame). This reads
    private members of mediapipe 0.10.21's ``SolutionBase`` (the version pinned); without them
    it takes the public call.
    """
    try:
        from mediapipe.python._framework_bindings import _packet_getter

        graph, outputs = solution._graph, solution._graph_outputs
        kind = solution._input_stream_type_info["image"]
    except (ImportError, AttributeError, KeyError, TypeError):
        found = getattr(solution.process(rgb), stream) or []
        return [m.SerializeToString() for m in found]
    outputs.clear()
    solution._simulated_timestamp += 33333  # as SolutionBase.process: a 30 fps clock
    packet = solution._make_packet(kind, rgb).at(solution._simulated_timestamp)
    graph.add_packet_to_input_stream(stream="image", packet=packet)
    graph.wait_until_idle()
    out = outputs.get(stream)
    if out is None or out.is_empty() or _packet_getter._get_proto_vector_size(out) == 0:
        return []
    return list(_packet_getter._get_serialized_proto_list(out))


def _to_pixels(face: Any, w: int, h: int) -> np.ndarray:
    """Landmarks (478, 3) in pixels (z on the x scale) from a NormalizedLandmarkList (a message
    or its serialized bytes)."""
    if isinstance(face, bytes):
        raw = face
    else:
        raw = face.SerializeToString()
    # reading the wire format with numpy is ~20x faster than 1434 protobuf attribute reads; any
    # other layout (e.g. a field left out) takes the slow, general path
    if len(raw) == N_LANDMARKS * _LANDMARK_WIRE.itemsize:
        rec = np.frombuffer(raw, dtype=_LANDMARK_WIRE)
        if (np.all(rec["tag"] == 0x0A) and np.all(rec["len"] == 15) and np.all(rec["tx"] == 0x0D)
                and np.all(rec["ty"] == 0x15) and np.all(rec["tz"] == 0x1D)):
            a = np.stack([rec["x"], rec["y"], rec["z"]], axis=1).astype(np.float64)
            return a * np.array([w, h, w], dtype=np.float64)
    if isinstance(face, bytes):
        from mediapipe.framework.formats import landmark_pb2

        face = landmark_pb2.NormalizedLandmarkList.FromString(face)
    a = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float64)
    if a.shape != (N_LANDMARKS, 3):
        raise RuntimeError(f"mediapipe returned {a.shape[0]} landmarks, expected {N_LANDMARKS}")
    return a * np.array([w, h, w], dtype=np.float64)


def blur_measure(rgb: np.ndarray, bbox: np.ndarray, size: int) -> float:
    """Variance of the Laplacian of the grey face crop resized to ``size`` square (NaN: empty crop).

    Shared by both tracking backends so that they flag the same frames as motion-blurred.
    """
    import cv2

    crop = _crop(rgb, bbox)
    if crop.size == 0:
        return float("nan")
    # resize first: the grey conversion then runs on size² pixels, not on the whole crop
    # (both steps are linear, so the order changes only the rounding)
    small = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


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


def _bbox(mesh: np.ndarray) -> np.ndarray:
    return np.array([mesh[:, 0].min(), mesh[:, 1].min(), mesh[:, 0].max(), mesh[:, 1].max()])


def _crop(rgb: np.ndarray, bbox: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    x0, y0 = max(int(np.floor(bbox[0])), 0), max(int(np.floor(bbox[1])), 0)
    x1, y1 = min(int(np.ceil(bbox[2])), w), min(int(np.ceil(bbox[3])), h)
    return rgb[y0:y1, x0:x1]
