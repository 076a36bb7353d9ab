"""Mediapipe's region-of-interest rules and crops, batched on the device.

A region is a rotated rectangle in image pixels, stored as a (N, 5) tensor
``cx, cy, w, h, rotation`` (radians, mediapipe's sign). Mediapipe computes these
in normalised image coordinates; with ``square_long`` the rectangle is square in
pixels, so working in pixels gives the same numbers with less bookkeeping.

Rules reproduced (mediapipe 0.10.21 face mesh graph):

* from a detection: the detection box, rotation from keypoint 0 (right eye) to
  keypoint 1 (left eye), squared on the long side, scaled by 1.5;
* from the previous frame's landmarks: the landmarks' axis-aligned box, rotation
  from landmark 33 to 263, squared on the long side, scaled by 1.5;
* the crop: the rectangle's corners map to ``0`` and ``size`` of the output (so an
  output pixel ``i`` samples ``(i / size - 0.5) * w``), bilinear, replicated border
  (mesh) or zero border (detector letterbox), rounded to 8 bits like the uint8
  image mediapipe warps;
* landmarks back: ``/size``, rotate, scale by the region, add its centre; z times the
  region width.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

SCALE = 1.5  # RectTransformationCalculator scale_x/scale_y in both face-mesh ROI subgraphs
TRACK_ROTATION = (33, 263)  # FaceLandmarkLandmarksToRoi rotation keypoints
DETECT_ROTATION = (0, 1)  # FaceDetectionFrontDetectionToRoi rotation keypoints


def _rotation(p0: torch.Tensor, p1: torch.Tensor) -> torch.Tensor:
    """Mediapipe's ``target - atan2(-(y1 - y0), x1 - x0)`` with target 0 (pixel coords)."""
    return -torch.atan2(-(p1[..., 1] - p0[..., 1]), p1[..., 0] - p0[..., 0])


def _square_scaled(cx: torch.Tensor, cy: torch.Tensor, w: torch.Tensor, h: torch.Tensor,
                   rot: torch.Tensor) -> torch.Tensor:
    side = torch.maximum(w, h) * SCALE
    return torch.stack((cx, cy, side, side, rot), dim=-1)


def rect_from_detection(box: torch.Tensor, keypoints: torch.Tensor) -> torch.Tensor:
    """Regions from detections.

    Parameters
    ----------
    box : Tensor (N, 4)
        ``xmin, ymin, width, height`` in pixels.
    keypoints : Tensor (N, 6, 2)
        Detector keypoints in pixels (0 right eye, 1 left eye, ...).
    """
    rot = _rotation(keypoints[:, DETECT_ROTATION[0]], keypoints[:, DETECT_ROTATION[1]])
    return _square_scaled(box[:, 0] + box[:, 2] / 2, box[:, 1] + box[:, 3] / 2, box[:, 2], box[:, 3], rot)


def rect_from_landmarks(lm: torch.Tensor) -> torch.Tensor:
    """Regions for the next frame from landmarks (N, L, >=2) in pixels."""
    xy = lm[..., :2]
    lo = xy.min(dim=1).values
    hi = xy.max(dim=1).values
    rot = _rotation(xy[:, TRACK_ROTATION[0]], xy[:, TRACK_ROTATION[1]])
    size = hi - lo
    return _square_scaled((lo[:, 0] + hi[:, 0]) / 2, (lo[:, 1] + hi[:, 1]) / 2, size[:, 0], size[:, 1], rot)


def letterbox_rect(height: int, width: int, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
    """The whole image padded to a square (ImageToTensor ``keep_aspect_ratio``)."""
    side = float(max(height, width))
    r = torch.tensor([width / 2, height / 2, side, side, 0.0], device=device)
    return r.expand(n, 5).clone()


def crop(images: torch.Tensor, rects: torch.Tensor, size: int, border: str) -> torch.Tensor:
    """Warp each region of ``images`` to a ``size`` x ``size`` crop.

    Parameters
    ----------
    images : Tensor (N, 3, H, W)
        Float pixel values 0..255 (one region per image).
    rects : Tensor (N, 5)
        Regions as described in the module docstring.
    size : int
        Output side in pixels.
    border : {"replicate", "zero"}
        How samples outside the image are filled.

    Returns
    -------
    Tensor (N, 3, size, size)
        0..255, rounded to integers as mediapipe's uint8 warp would be.
    """
    _, _, h, w = images.shape
    dev, dt = images.device, images.dtype
    steps = torch.arange(size, device=dev, dtype=dt) / size - 0.5
    gy, gx = torch.meshgrid(steps, steps, indexing="ij")  # (size, size)
    cx, cy, rw, rh, rot = (rects[:, i, None, None].to(dt) for i in range(5))
    ox, oy = gx * rw, gy * rh
    c, s = torch.cos(rot), torch.sin(rot)
    sx = cx + c * ox - s * oy
    sy = cy + s * ox + c * oy
    grid = torch.stack((sx / (w - 1) * 2 - 1, sy / (h - 1) * 2 - 1), dim=-1)
    mode = "border" if border == "replicate" else "zeros"
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode=mode, align_corners=True)
    return torch.round(out)


def project(raw: torch.Tensor, rects: torch.Tensor, size: int) -> torch.Tensor:
    """Crop coordinates (N, L, 2|3), 0..size, back to image pixels (z scaled like x)."""
    cx, cy, rw, rh, rot = (rects[:, i, None] for i in range(5))
    x = raw[..., 0] / size - 0.5
    y = raw[..., 1] / size - 0.5
    c, s = torch.cos(rot), torch.sin(rot)
    px = (c * x - s * y) * rw + cx
    py = (s * x + c * y) * rh + cy
    if raw.shape[-1] == 2:
        return torch.stack((px, py), dim=-1)
    return torch.stack((px, py, raw[..., 2] / size * rw), dim=-1)
