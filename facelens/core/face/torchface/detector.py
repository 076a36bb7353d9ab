"""Mediapipe's short-range BlazeFace detector as a batched torch module.

Pre- and post-processing follow mediapipe's ``face_detection_short_range`` graph:
letterbox to 128x128 (zero border, values -1..1), 896 SSD anchors (strides 8, 16,
16, 16; one interpolated scale per layer; fixed anchor size), boxes and six
keypoints decoded with scale 128, sigmoid scores clipped at +-100, score threshold
0.5, weighted non-maximum suppression at IoU 0.3.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import roi
from .graph import TFLiteGraph
from .tflite import mediapipe_model_path, read_model

DETECTOR_FILE = "modules/face_detection/face_detection_short_range.tflite"
INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)
NMS_IOU = 0.3
TOP_K = 64  # candidates per frame sent to NMS; a frame rarely has more than ~20 above 0.5


def ssd_anchors(size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres (A, 2) in 0..1, mediapipe's SsdAnchorsCalculator order.

    Consecutive layers with the same stride share one feature map; each layer adds
    two anchors per cell (aspect ratio 1 and the interpolated scale), all of size 1.
    """
    out: list[tuple[float, float]] = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = 2 * (j - i)
        fm = -(-size // strides[i])
        for y in range(fm):
            for x in range(fm):
                out.extend([((x + 0.5) / fm, (y + 0.5) / fm)] * per_cell)
        i = j
    return np.asarray(out, dtype=np.float32)


@dataclass
class Detection:
    """One face found by the detector, in image pixels."""

    score: float
    box: np.ndarray  # (4,) xmin, ymin, width, height
    keypoints: np.ndarray  # (6, 2)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[0] + box[2], boxes[:, 0] + boxes[:, 2])
    y1 = np.minimum(box[1] + box[3], boxes[:, 1] + boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    union = box[2] * box[3] + boxes[:, 2] * boxes[:, 3] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(scores: np.ndarray, boxes: np.ndarray, kps: np.ndarray) -> list[Detection]:
    """Mediapipe's WEIGHTED non-maximum suppression (IoU > 0.3 merges, score-weighted).

    The merged detection keeps the best score and averages box corners and keypoints
    of every candidate overlapping the best one (itself included), weighted by score.
    """
    order = np.argsort(-scores, kind="stable")
    out: list[Detection] = []
    while order.size:
        best = order[0]
        sim = _iou(boxes[best], boxes[order])
        cand = order[sim > NMS_IOU]
        rest = order[sim <= NMS_IOU]
        if cand.size == 0:
            cand = order[:1]
        wts = scores[cand][:, None]
        total = wts.sum()
        corners = np.concatenate((boxes[cand, :2], boxes[cand, :2] + boxes[cand, 2:]), axis=1)
        c = (corners * wts).sum(0) / total
        k = (kps[cand] * wts[:, :, None]).sum(0) / total
        out.append(Detection(float(scores[best]), np.array([c[0], c[1], c[2] - c[0], c[3] - c[1]]), k))
        if rest.size == order.size:
            break
        order = rest
    return out


class FaceDetector(torch.nn.Module):
    """Batched short-range face detector.

    Parameters
    ----------
    min_score : float
        Detection threshold (mediapipe's ``min_detection_confidence``, default 0.5).
    """

    anchors: torch.Tensor

    def __init__(self, min_score: float = 0.5) -> None:
        super().__init__()
        self.net = TFLiteGraph(read_model(mediapipe_model_path(DETECTOR_FILE)))
        self.register_buffer("anchors", torch.from_numpy(ssd_anchors()), persistent=False)
        self.min_score = float(min_score)

    @torch.no_grad()
    def raw(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores (N, A), boxes (N, A, 4) and keypoints (N, A, 6, 2) in image pixels.

        ``images`` is (N, 3, H, W) float 0..255 on the module's device.
        """
        n, _, h, w = images.shape
        rect = roi.letterbox_rect(h, w, n, images.device)
        x = roi.crop(images, rect, INPUT_SIZE, border="zero") / 127.5 - 1.0
        out = self.net(x)
        reg = out["regressors"]  # (N, A, 16)
        logits = out["classificators"][..., 0].clamp(-100.0, 100.0)
        scores = torch.sigmoid(logits)
        anc = self.anchors * INPUT_SIZE  # anchor centres in the 128-px letterbox
        cxy = reg[..., 0:2] + anc
        wh = reg[..., 2:4]
        kp = reg[..., 4:16].reshape(n, -1, 6, 2) + anc[:, None, :]
        corner = roi.project(cxy - wh / 2, rect, INPUT_SIZE)
        side = rect[:, 2, None, None]  # letterbox square side: isotropic scale
        boxes = torch.cat((corner, wh * side / INPUT_SIZE), dim=-1)
        kps = roi.project(kp.reshape(n, -1, 2), rect, INPUT_SIZE).reshape(n, -1, 6, 2)
        return scores, boxes, kps

    @torch.no_grad()
    def detect(self, images: torch.Tensor) -> list[list[Detection]]:
        """Detections per image, best first (after thresholding and weighted NMS)."""
        scores, boxes, kps = self.raw(images)
        k = min(TOP_K, scores.shape[1])
        top, idx = scores.topk(k, dim=1)
        b = torch.gather(boxes, 1, idx[..., None].expand(-1, -1, 4))
        kp = torch.gather(kps, 1, idx[..., None, None].expand(-1, -1, 6, 2))
        top_np, b_np, kp_np = (t.float().cpu().numpy() for t in (top, b, kp))
        result: list[list[Detection]] = []
        for i in range(top_np.shape[0]):
            keep = top_np[i] >= self.min_score
            if not keep.any():
                result.append([])
                continue
            result.append(weighted_nms(top_np[i][keep], b_np[i][keep], kp_np[i][keep]))
        return result
