"""Loader for a user-provided insightface model pack (e.g. ``buffalo_l``): its SCRFD face detector.

insightface weights cannot be downloaded here (model hubs are unreachable) and their licence is
non-commercial, so FaceLens never ships them. When a user copies a pack folder into the user models
folder (``facelens models add insightface-pack FOLDER``), :func:`find_pack` finds its ``det_*.onnx``;
otherwise the pipeline keeps mediapipe's detector and says so (:data:`ABSENT_NOTICE`).

SCRFD I/O (as in insightface's ``scrfd.py`` convention): one input ``(1, 3, H, W)`` RGB,
``(x - 127.5) / 128``; 9 outputs = scores, box distances and 5 keypoints for strides 8, 16, 32, with
2 anchors per cell: ``(N_s, 1)``, ``(N_s, 4)``, ``(N_s, 10)`` where ``N_s = H/s * W/s * 2`` (a leading
batch axis of 1 is accepted). Boxes are distances (left, top, right, bottom) from the anchor centre
in units of the stride. 6 outputs = the same without keypoints.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MODEL_ID = "insightface-pack"
STRIDES = (8, 16, 32)
ANCHORS = 2
ABSENT_NOTICE = "no insightface model pack in the user models folder: using mediapipe's face detector"


class PackError(Exception):
    """The folder is not a usable insightface pack (one-line message)."""


@dataclass
class Detection:
    """One face: box x0, y0, x1, y1 (pixels), score, and 5 keypoints (5, 2) or None."""

    box: np.ndarray
    score: float
    keypoints: np.ndarray | None


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    order = np.argsort(-scores)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        xx0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        yy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        xx1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        yy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(xx1 - xx0, 0, None) * np.clip(yy1 - yy0, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
        union = area(boxes[i]) + area(boxes[rest]) - inter
        order = rest[inter / np.maximum(union, 1e-9) <= iou]
    return keep


class InsightFacePack:
    """The SCRFD detector of an insightface pack folder, run with onnxruntime (CPU).

    Parameters
    ----------
    folder
        Pack folder holding ``det_*.onnx`` (other files of the pack are ignored).
    input_size
        Detector input side when the model's input size is dynamic.
    """

    def __init__(self, folder: Path, input_size: int = 640) -> None:
        import onnxruntime as ort

        folder = Path(folder)
        dets = sorted(folder.glob("det_*.onnx")) if folder.is_dir() else []
        if not dets:
            raise PackError(f"{folder} has no det_*.onnx (not an insightface model pack)")
        self.path = dets[0]
        try:
            self.session = ort.InferenceSession(str(self.path), providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise PackError(f"{self.path.name} is not a loadable ONNX model: {str(exc).splitlines()[0]}") from None
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = list(inputs[0].shape)
        if len(inputs) != 1 or len(shape) != 4 or shape[1] != 3:
            raise PackError(f"{self.path.name}: expected one (1, 3, H, W) input, got {shape}")
        if len(outputs) not in (6, 9):
            raise PackError(f"{self.path.name}: expected 6 or 9 SCRFD outputs, got {len(outputs)}")
        self.input_name = inputs[0].name
        self.use_kps = len(outputs) == 9
        fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.size = (int(shape[3]), int(shape[2])) if fixed else (input_size, input_size)

    def detect(self, rgb: np.ndarray, threshold: float = 0.5, nms_iou: float = 0.4) -> list[Detection]:
        """Faces in an (H, W, 3) uint8 RGB frame, best first."""
        import cv2

        h, w = rgb.shape[:2]
        tw, th = self.size
        scale = min(tw / w, th / h)  # letterbox: keep the aspect ratio, pad right/bottom
        nw, nh = max(int(round(w * scale)), 1), max(int(round(h * scale)), 1)
        canvas = np.zeros((th, tw, 3), np.float32)
        canvas[:nh, :nw] = cv2.resize(rgb, (nw, nh)).astype(np.float32)
        blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outs = [np.asarray(o).reshape(-1, o.shape[-1]) for o in self.session.run(None, {self.input_name: blob})]
        n = len(STRIDES)
        boxes_all, scores_all, kps_all = [], [], []
        for k, s in enumerate(STRIDES):
            gh, gw = th // s, tw // s
            yy, xx = np.mgrid[:gh, :gw]
            centres = np.repeat(np.stack([xx, yy], -1).reshape(-1, 2) * s, ANCHORS, axis=0).astype(np.float32)
            scores = outs[k][:, 0]
            if scores.shape[0] != centres.shape[0]:
                raise PackError(f"{self.path.name}: stride {s} output has {scores.shape[0]} rows, expected {centres.shape[0]}")
            keep = scores >= threshold
            d = outs[n + k][keep] * s
            c = centres[keep]
            boxes_all.append(np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1))
            scores_all.append(scores[keep])
            if self.use_kps:
                kp = outs[2 * n + k][keep].reshape(-1, 5, 2) * s + c[:, None, :]
                kps_all.append(kp)
        boxes = np.concatenate(boxes_all) / scale
        scores = np.concatenate(scores_all)
        kps = np.concatenate(kps_all) / scale if self.use_kps else None
        result = []
        for i in _nms(boxes, scores, nms_iou):
            result.append(Detection(boxes[i].astype(np.float32), float(scores[i]),
                                    None if kps is None else kps[i].astype(np.float32)))
        return result


def find_pack() -> tuple[InsightFacePack | None, str]:
    """The user's insightface pack if present and loadable, else ``None`` and the notice to show."""
    from facelens.core.registry import registry

    loc = registry.location(MODEL_ID)
    if loc is None or not loc.is_dir():
        return None, ABSENT_NOTICE
    try:
        pack = InsightFacePack(loc)
        return pack, f"using the insightface pack detector {loc.name}/{pack.path.name}"
    except PackError as exc:
        return None, f"{exc}; using mediapipe's face detector"
