"""Face crops of AsmV2L, shared by training and the analysis: the square box of the tracked mesh grown
by ``MARGIN`` of its side on every side, bilinear with replicated edges, ``CROP_SIZE`` pixels; the
network's input is that crop area-resized to its ``input_size``."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

CROP_SIZE = 224
MARGIN = 0.2


def crop_frame(rgb: np.ndarray, landmarks: np.ndarray, size: int = CROP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """Square crop around the mesh (edge replicated, bilinear) and the landmarks in crop units
    (x, y in 0..1, z / side)."""
    import cv2

    lo, hi = landmarks[:, :2].min(0), landmarks[:, :2].max(0)
    side = max(float(hi[0] - lo[0]), float(hi[1] - lo[1]), 1.0) * (1 + 2 * MARGIN)
    centre = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 0.0])
    s = size / side
    m = np.array([[s, 0.0, size / 2 - s * centre[0]], [0.0, s, size / 2 - s * centre[1]]])
    crop = cv2.warpAffine(np.ascontiguousarray(rgb), m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    lm = (landmarks - centre) / side + np.array([0.5, 0.5, 0.0])
    return crop, lm.astype(np.float32)


def resize_crops(crops: np.ndarray, size: int) -> torch.Tensor:
    """(N,S,S,3) uint8 crops -> (N,3,size,size) uint8 tensor (area averaging when shrinking)."""
    import torch
    import torch.nn.functional as F

    out = []
    for k in range(0, len(crops), 64):
        x = torch.from_numpy(np.ascontiguousarray(crops[k:k + 64])).permute(0, 3, 1, 2).float() / 255.0
        if x.shape[-1] != size:
            x = F.interpolate(x, size=(size, size), mode="area")
        out.append((x * 255).round().to(torch.uint8))
    return torch.cat(out) if out else torch.zeros((0, 3, size, size), dtype=torch.uint8)
