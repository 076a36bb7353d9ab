"""The one module that talks to mediapipe: its graphs, how they are run, and their output format.

Three graphs of mediapipe's legacy solutions are used: FaceMesh (detector + 478-point landmark
model with iris refinement, one face or several), the short-range face detector (to count
faces), and the landmark model alone, run on a region given by the caller (``FaceLandmarkCpu``,
the subgraph FaceMesh runs on its tracked region, built here with
:class:`~mediapipe.python.solution_base.SolutionBase`'s public ``graph_config`` argument).

:class:`Graph` runs one of them on a frame and hands back the output stream's messages
*serialized*. Two ways, same bytes:

* the fast path (default) reads private members of mediapipe 0.10.21's ``SolutionBase`` (the
  version pinned in ``pyproject.toml``): ``_graph``, ``_graph_outputs``, ``_make_packet``,
  ``_simulated_timestamp`` and ``_packet_getter``. It skips what ``SolutionBase.process`` does on
  every call on top of the graph run: building a namedtuple type and parsing every message into
  Python objects, which :func:`landmarks_px` would serialise again (~0.15 ms a call);
* the public path, ``solution.process(...)`` then ``SerializeToString()``: taken when
  ``private_api=False`` or when those members are missing (another mediapipe version).

``tests/test_tracking_adapter.py`` checks that both give identical observations.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from facelens.core.common.types import N_LANDMARKS

# One serialised NormalizedLandmark inside a NormalizedLandmarkList, as mediapipe writes it: field 1
# (tag 0x0a, length 15) holding x, y, z as fixed32 fields 1-3 (tags 0x0d, 0x15, 0x1d).
_LANDMARK_WIRE = np.dtype([("tag", "u1"), ("len", "u1"), ("tx", "u1"), ("x", "<f4"),
                           ("ty", "u1"), ("y", "<f4"), ("tz", "u1"), ("z", "<f4")])

# The landmark model alone on a given region (FaceMesh runs the same subgraph on its tracked region).
_LANDMARK_GRAPH = """
input_stream: "image"
input_stream: "roi"
output_stream: "face_landmarks"
node {
  calculator: "FaceLandmarkCpu"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  input_side_packet: "WITH_ATTENTION:with_attention"
  output_stream: "LANDMARKS:face_landmarks"
}
"""


class Graph:
    """One mediapipe solution graph; :meth:`run` feeds it one frame's inputs.

    Parameters
    ----------
    solution
        A ``SolutionBase`` (FaceMesh, FaceDetection, or the landmark graph).
    private_api
        Use the fast path when mediapipe's private members are there (see the module docstring).
    """

    def __init__(self, solution: Any, private_api: bool = True) -> None:
        self._solution = solution
        self.fast = bool(private_api) and _has_private_members(solution)

    def run(self, inputs: Mapping[str, Any], stream: str) -> list[bytes]:
        """The serialized messages of output ``stream`` after one run on ``inputs``
        (stream name -> RGB uint8 image or protobuf message)."""
        s = self._solution
        if not self.fast:
            from mediapipe.python.solution_base import SolutionBase

            # the base class's public process (FaceMesh.process takes only an image)
            found = getattr(SolutionBase.process(s, dict(inputs)), stream)
            if found is None:
                return []
            return [m.SerializeToString() for m in (found if isinstance(found, list) else [found])]
        from mediapipe.python._framework_bindings import _packet_getter
        from mediapipe.python.solution_base import PacketDataType

        s._graph_outputs.clear()
        s._simulated_timestamp += 33333  # as SolutionBase.process: a 30 fps clock
        for name, data in inputs.items():
            packet = s._make_packet(s._input_stream_type_info[name], data)
            s._graph.add_packet_to_input_stream(stream=name, packet=packet.at(s._simulated_timestamp))
        s._graph.wait_until_idle()
        out = s._graph_outputs.get(stream)
        if out is None or out.is_empty():
            return []
        if s._output_stream_type_info[stream] != PacketDataType.PROTO_LIST:
            return [bytes(_packet_getter._get_serialized_proto(out))]
        if _packet_getter._get_proto_vector_size(out) == 0:
            return []
        return list(_packet_getter._get_serialized_proto_list(out))

    def forget(self) -> None:
        """Drop a tracking FaceMesh's tracked faces (the legacy API has no reset): a frame without
        a face makes it detect afresh on the next frame (about 2 ms)."""
        self.run({"image": np.zeros((64, 64, 3), np.uint8)}, "multi_face_landmarks")

    def close(self) -> None:
        self._solution.close()


def _has_private_members(solution: Any) -> bool:
    try:
        from mediapipe.python._framework_bindings import _packet_getter

        return all(hasattr(solution, n) for n in ("_graph", "_graph_outputs", "_make_packet",
                                                 "_simulated_timestamp", "_input_stream_type_info",
                                                 "_output_stream_type_info")) and all(
            hasattr(_packet_getter, n) for n in ("_get_serialized_proto", "_get_serialized_proto_list",
                                                 "_get_proto_vector_size"))
    except ImportError:
        return False


def face_mesh(*, static: bool, max_num_faces: int, min_detection_confidence: float,
              min_tracking_confidence: float, private_api: bool = True) -> Graph:
    """FaceMesh with iris refinement (478 landmarks); output stream ``multi_face_landmarks``."""
    import mediapipe as mp

    return Graph(mp.solutions.face_mesh.FaceMesh(
        static_image_mode=static, max_num_faces=max_num_faces, refine_landmarks=True,
        min_detection_confidence=min_detection_confidence,
        min_tracking_confidence=min_tracking_confidence), private_api)


def face_detector(*, min_detection_confidence: float, private_api: bool = True) -> Graph:
    """The short-range face detector; output stream ``detections``."""
    import mediapipe as mp

    return Graph(mp.solutions.face_detection.FaceDetection(
        model_selection=0, min_detection_confidence=min_detection_confidence), private_api)


def landmark_model(*, with_attention: bool = True, private_api: bool = True) -> Graph:
    """The landmark model alone, on the region given with each frame (:func:`region`);
    output stream ``face_landmarks`` (nothing when the model's face-presence score is below 0.5)."""
    from mediapipe.python.solution_base import SolutionBase

    return Graph(SolutionBase(graph_config=_LANDMARK_GRAPH,
                              side_inputs={"with_attention": bool(with_attention)}), private_api)


def region(cx: float, cy: float, side: float, rotation: float, w: int, h: int) -> Any:
    """A mediapipe ``NormalizedRect``: a square of ``side`` pixels centred on (cx, cy) pixels in a
    ``w`` x ``h`` image, turned by ``rotation`` radians."""
    from mediapipe.framework.formats import rect_pb2

    return rect_pb2.NormalizedRect(x_center=cx / w, y_center=cy / h, width=side / w, height=side / h,
                                   rotation=float(rotation))


def landmarks_px(face: Any, w: int, h: int) -> np.ndarray:
    """Landmarks (478, 3) float64 in pixels (z on the x scale) from a NormalizedLandmarkList (a
    message or its serialized bytes)."""
    raw = face if isinstance(face, bytes) else face.SerializeToString()
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
