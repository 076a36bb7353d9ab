"""Mediapipe's three custom tflite ops of the attention mesh model, batched in torch.

``face_landmark_with_attention.tflite`` refines the lips, eyes and irises by
cropping a 16x16 window of an intermediate feature map around each region
(``Landmarks2TransformMatrix`` + ``TransformTensorBilinear``) and mapping the
region's landmarks back (``TransformLandmarks``). The arithmetic below follows
the published behaviour of mediapipe's reference CPU kernels (version 2 of each op,
the version recorded in the model file); options come from the op's flexbuffer.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def _rot(r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.cos(r), torch.sin(r)


def landmarks_to_transform_matrix(lm: torch.Tensor, opts: dict[str, Any]) -> torch.Tensor:
    """Affine (as 4x4) from a region's 16x16 output grid to feature-map coordinates.

    Parameters
    ----------
    lm : Tensor (N, L, 3)
        Landmarks already scaled to feature-map units by the model.
    opts : dict
        ``left_rotation_idx``, ``right_rotation_idx``, ``subset_idxs``, ``output_width``,
        ``output_height``, ``scale_x``, ``scale_y``, ``target_rotation_radians``.

    Returns
    -------
    Tensor (N, 4, 4)
        ``shift(centre) @ rot(-r) @ scale @ shift(-out/2)``, row-major like the kernel.
    """
    left = lm[:, int(opts["left_rotation_idx"]), :2]
    right = lm[:, int(opts["right_rotation_idx"]), :2]
    # rotation that makes the left->right vector point at the target angle
    r = float(opts.get("target_rotation_radians", 0.0)) - torch.atan2(
        right[:, 1] - left[:, 1], right[:, 0] - left[:, 0]
    )
    idx = torch.as_tensor([int(i) for i in opts["subset_idxs"]], device=lm.device)
    pts = lm[:, idx, :2]  # (N, S, 2)
    c, s = _rot(r)
    c_, s_ = c[:, None], s[:, None]
    xr = c_ * pts[..., 0] - s_ * pts[..., 1]
    yr = s_ * pts[..., 0] + c_ * pts[..., 1]
    xmin, xmax = xr.min(dim=1).values, xr.max(dim=1).values
    ymin, ymax = yr.min(dim=1).values, yr.max(dim=1).values
    cw, ch = xmax - xmin, ymax - ymin
    mx, my = (xmin + xmax) / 2, (ymin + ymax) / 2
    # centre rotated back with the inverse rotation (-r)
    cx = c * mx + s * my
    cy = -s * mx + c * my
    ow, oh = float(opts["output_width"]), float(opts["output_height"])
    sx = float(opts["scale_x"]) * cw / ow
    sy = float(opts["scale_y"]) * ch / oh
    # rot(-r) = [[c, s], [-s, c]]; compose shift @ rot @ scale @ shift2 in closed form
    a00, a01 = c * sx, s * sy
    a10, a11 = -s * sx, c * sy
    tx = cx + a00 * (-ow / 2) + a01 * (-oh / 2)
    ty = cy + a10 * (-ow / 2) + a11 * (-oh / 2)
    n = lm.shape[0]
    out = torch.zeros(n, 4, 4, dtype=lm.dtype, device=lm.device)
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 3] = a00, a01, tx
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 3] = a10, a11, ty
    out[:, 2, 2] = 1.0
    out[:, 3, 3] = 1.0
    return out


def transform_tensor_bilinear(x: torch.Tensor, m: torch.Tensor, opts: dict[str, Any]) -> torch.Tensor:
    """Sample ``x`` (N, C, H, W) on the grid given by ``m`` (N, 4, 4) -> (N, C, oh, ow).

    Version 2 corrects for pixel centres (``T -> S T A``); a sample point outside
    ``[0, W-1] x [0, H-1]`` yields 0 for every channel, inside ones are bilinear.
    """
    _, _, h, w = x.shape
    oh, ow = int(opts["output_height"]), int(opts["output_width"])
    ys, xs = torch.meshgrid(
        torch.arange(oh, dtype=x.dtype, device=x.device),
        torch.arange(ow, dtype=x.dtype, device=x.device),
        indexing="ij",
    )
    mx, my = m[:, 0], m[:, 1]  # (N, 4)
    tx3 = mx[:, 3] + mx[:, 0] * 0.5 + mx[:, 1] * 0.5 - 0.5
    ty3 = my[:, 3] + my[:, 0] * 0.5 + my[:, 1] * 0.5 - 0.5
    px = mx[:, 0, None, None] * xs + mx[:, 1, None, None] * ys + tx3[:, None, None]
    py = my[:, 0, None, None] * xs + my[:, 1, None, None] * ys + ty3[:, None, None]
    inside = (px >= 0) & (px <= w - 1) & (py >= 0) & (py <= h - 1)
    grid = torch.stack((px / (w - 1) * 2 - 1, py / (h - 1) * 2 - 1), dim=-1)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return out * inside[:, None].to(x.dtype)


def transform_landmarks(lm: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """Map (N, K, 2|3) landmarks with the 2D part of (N, 4, 4); z passes through."""
    x, y = lm[..., 0], lm[..., 1]
    nx = m[:, 0, 0, None] * x + m[:, 0, 1, None] * y + m[:, 0, 3, None]
    ny = m[:, 1, 0, None] * x + m[:, 1, 1, None] * y + m[:, 1, 3, None]
    if lm.shape[-1] == 2:
        return torch.stack((nx, ny), dim=-1)
    return torch.stack((nx, ny, lm[..., 2]), dim=-1)
