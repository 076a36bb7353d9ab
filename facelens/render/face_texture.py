"""The video frame as the 3D face's texture: a crop around the tracked face, per-vertex texture coordinates.

Each tracked landmark has an image position (x, y in pixels of the frame it was tracked in; the results
file's ``landmarks``). Dividing by the crop's size gives its texture coordinate, so the frame's own pixels
land on the mesh of the same frame, whichever way the mesh is drawn (with head pose or expression only).

Only a crop around the face is uploaded (the landmarks' box plus a margin), downscaled when it is larger
than the view needs. Below the crop the texture holds a small patch of the face's own skin colour (the
median of three skin areas: forehead and cheeks), which the back shell (:mod:`facelens.render.face_closure`)
takes, so the back of the head is a plain colour instead of streaks of the picture.

Texture coordinates here have v growing downwards with the image's rows (row 0 = the top of the frame),
the order the image array is uploaded in; nothing is flipped.

Qt-free: images are numpy arrays. De-identified output (the report's snapshots, ``snapshot.render_face``)
never goes through this module.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facelens.render.face_closure import ClosedFace, closed_face

#: Margin around the landmarks' box, as a fraction of the box's larger side.
CROP_MARGIN = 0.06
#: Rows of skin colour added below the crop (the back shell samples their middle).
PATCH_ROWS = 4
#: Landmarks around which the skin colour is measured: forehead, left and right cheek.
SKIN_SAMPLES = (151, 50, 280)
#: The face outline's texture coordinates are drawn in this far towards the face's middle: the tracked
#: outline lies on the silhouette, where the frame often shows hair or background, which the outline's
#: steep side triangles would otherwise smear over the cheeks and temples when the face is orbited.
OUTLINE_PULL = 0.93
#: Crops never upload more than this many pixels along their longer side.
MAX_SIDE = 1024


@dataclass(frozen=True)
class FaceTexture:
    """A texture for one frame's mesh.

    Attributes
    ----------
    image : (H, W, 3) uint8
        The crop of the frame around the face (row 0 at the top).
    uv : (478, 2) float32
        Each landmark's position in ``image``, normalised to [0, 1] (u along the columns, v down the rows).
    time_s : float
        The time of the frame it was cut from (the mesh it fits is from the same frame).
    """

    image: np.ndarray
    uv: np.ndarray
    time_s: float = float("nan")


def crop_box(landmarks_px: np.ndarray, width: int, height: int,
             margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """The landmarks' box (x0, y0, x1, y1; x1, y1 exclusive) plus ``margin``, clipped to the frame."""
    xy = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
    pad = margin * float((hi - lo).max())
    x0 = int(np.clip(np.floor(lo[0] - pad), 0, width - 1))
    y0 = int(np.clip(np.floor(lo[1] - pad), 0, height - 1))
    x1 = int(np.clip(np.ceil(hi[0] + pad), x0 + 1, width))
    y1 = int(np.clip(np.ceil(hi[1] + pad), y0 + 1, height))
    return x0, y0, x1, y1


def target_size(box: tuple[int, int, int, int], max_side: int) -> tuple[int, int]:
    """(width, height) to upload the crop at: its own size, or smaller so its longer side is ``max_side``."""
    w, h = box[2] - box[0], box[3] - box[1]
    s = min(1.0, max(1, min(int(max_side), MAX_SIDE)) / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def texture_coords(landmarks_px: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Landmarks' image positions as coordinates in the crop ``box`` (0..1; v down, like the image rows).

    A crop scaled to any size keeps these coordinates (they are fractions of the crop).
    """
    xy = np.asarray(landmarks_px, dtype=np.float64)[:, :2]
    x0, y0, x1, y1 = box
    uv = np.empty((len(xy), 2), np.float32)
    uv[:, 0] = (xy[:, 0] - x0) / (x1 - x0)
    uv[:, 1] = (xy[:, 1] - y0) / (y1 - y0)
    return uv


def from_frame(rgb: np.ndarray, landmarks_px: np.ndarray, max_side: int = MAX_SIDE,
               time_s: float = float("nan")) -> FaceTexture:
    """Cut the face out of a whole frame (H, W, 3 uint8): the crop, downscaled by whole pixels if needed."""
    h, w = rgb.shape[:2]
    box = crop_box(landmarks_px, w, h)
    crop = np.asarray(rgb)[box[1]:box[3], box[0]:box[2], :3]
    tw, th = target_size(box, max_side)
    if (tw, th) != (crop.shape[1], crop.shape[0]):  # nearest-pixel resampling (the GUI scales with Qt)
        rows = (np.arange(th) * crop.shape[0] / th).astype(np.int64)
        cols = (np.arange(tw) * crop.shape[1] / tw).astype(np.int64)
        crop = crop[rows][:, cols]
    return FaceTexture(np.ascontiguousarray(crop), texture_coords(landmarks_px, box), time_s)


def skin_colour(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Median colour of small windows of ``image`` around the forehead and cheek landmarks (uint8 RGB)."""
    h, w = image.shape[:2]
    r = max(1, round(0.03 * max(h, w)))
    parts = []
    for k in SKIN_SAMPLES:
        x = int(np.clip(round(float(uv[k, 0]) * w), 0, w - 1))
        y = int(np.clip(round(float(uv[k, 1]) * h), 0, h - 1))
        parts.append(image[max(0, y - r):y + r + 1, max(0, x - r):x + r + 1, :3].reshape(-1, 3))
    return np.median(np.concatenate(parts), axis=0).astype(np.uint8)


def texture_array(tex: FaceTexture, closed: ClosedFace | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The image to upload and the closed mesh's texture coordinates.

    Returns
    -------
    image : (H + PATCH_ROWS, W, 3) uint8
        The crop with the skin patch below it.
    uv : (closed.n_vertices, 2) float32
        Texture coordinates for :func:`face_closure.close_vertices` vertices: the landmarks' own (the
        outline's drawn in by ``OUTLINE_PULL``), the eye and mouth caps' rings those of their landmarks
        and their tips the ring's mean, the back shell the middle of the skin patch.
    """
    c = closed or closed_face()
    img = np.asarray(tex.image)
    h, w = img.shape[:2]
    out = np.empty((h + PATCH_ROWS, w, 3), np.uint8)
    out[:h] = img[..., :3]
    out[h:] = skin_colour(img, tex.uv)
    squeeze = h / (h + PATCH_ROWS)
    uv = np.empty((c.n_vertices, 2), np.float32)
    base = np.clip(np.asarray(tex.uv, np.float32)[: c.n_base], 0.0, 1.0)
    mid = base[:468].mean(axis=0)
    base[c.outline] = mid + (base[c.outline] - mid) * OUTLINE_PULL
    uv[: c.n_base] = base
    uv[: c.n_base, 1] *= squeeze
    uv[c.shell] = (0.5, (h + PATCH_ROWS / 2) / (h + PATCH_ROWS))
    for (ring, tip), loop in zip(c.caps, c.inner):
        uv[ring] = uv[loop]
        uv[tip] = uv[loop].mean(axis=0)
    return out, uv
