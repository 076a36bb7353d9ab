"""Offscreen face snapshots from the 478-point mesh: a small numpy rasteriser, no display, no OpenGL.

The printed report needs still images of the face at chosen moments, on machines with no X server
and no GL driver (a CI runner, a hospital terminal server). VisPy cannot render there, so this
module rasterises the mesh itself: orthographic projection of the pose-free mesh (template frame:
x toward the subject's left, y up, z toward the viewer), a z-buffer, Gouraud (smooth) shading of a
Lambert + ambient light model from :func:`facelens.core.face.topology.vertex_normals`, and 2x
supersampling for anti-aliased edges. The eye and mouth openings (the mesh's inner boundary loops)
are filled dark behind the skin so that the expression reads at a glance, as in the 3D view.

Public API
----------
``render_face(mesh, size=320, *, yaw_deg=0.0, pitch_deg=0.0, background=(1, 1, 1)) -> (H, W, 3) uint8``
``SnapshotError``  raised for a mesh that cannot be drawn (wrong shape, no finite vertices).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from facelens.core.face.topology import boundary_loops, triangles, vertex_normals

#: Skin tone (sRGB 0..1). Same warm beige as the GUI's 3D view (render/colors.SKIN_RGBA).
SKIN_RGB = (0.87, 0.72, 0.62)
#: Colour of the eye and mouth openings.
OPENING_RGB = (0.22, 0.16, 0.16)
#: Light direction in view space (from upper left, in front): a classic portrait key light.
LIGHT_DIR = np.array([-0.35, 0.45, 1.0]) / np.linalg.norm([-0.35, 0.45, 1.0])
AMBIENT = 0.32
DIFFUSE = 0.68
SUPERSAMPLE = 2
MARGIN = 0.06  # fraction of the image left free around the face


class SnapshotError(ValueError):
    """A mesh that cannot be rendered (one-line message)."""


@lru_cache(maxsize=1)
def _openings() -> tuple[np.ndarray, ...]:
    """Fan triangles closing the inner boundary loops (lips, eyes): ``(T, 3)`` with a virtual centre.

    The centre vertex of each fan gets index ``-1 - k`` for loop ``k`` (resolved per mesh).
    """
    loops = boundary_loops(triangles())
    loops = sorted(loops, key=len)[:-1]  # the longest loop is the outer face contour: not a hole
    fans = []
    for k, loop in enumerate(loops):
        ring = np.asarray(loop, dtype=np.int64)
        centre = np.full(len(ring), -1 - k)
        fans.append(np.stack([centre, ring, np.roll(ring, -1)], axis=1))
    return tuple(fans)


def _rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rx @ ry


def _raster(img: np.ndarray, zbuf: np.ndarray, pts: np.ndarray, tris: np.ndarray,
            colours: np.ndarray, z_bias: float = 0.0) -> None:
    """Draw triangles with per-vertex colours into ``img`` where they are nearer than ``zbuf``.

    ``pts`` are (V, 3) pixel x, pixel y (down), depth (larger = nearer); ``colours`` (V, 3).
    Vectorised over all triangles at once: every pixel of every triangle's bounding box becomes a
    candidate row, barycentric coordinates keep those inside, and the nearest candidate per pixel
    wins (a z-buffer resolved by sorting instead of a Python loop over 852 triangles).
    """
    h, w = zbuf.shape
    p = pts[tris]  # (T, 3 vertices, 3)
    x0 = np.clip(np.floor(p[:, :, 0].min(axis=1)), 0, w - 1).astype(np.int64)
    x1 = np.clip(np.ceil(p[:, :, 0].max(axis=1)), 0, w - 1).astype(np.int64)
    y0 = np.clip(np.floor(p[:, :, 1].min(axis=1)), 0, h - 1).astype(np.int64)
    y1 = np.clip(np.ceil(p[:, :, 1].max(axis=1)), 0, h - 1).astype(np.int64)
    bw, bh = x1 - x0 + 1, y1 - y0 + 1
    area = bw * bh
    keep = (area > 0) & (x1 >= x0) & (y1 >= y0)
    tid = np.repeat(np.flatnonzero(keep), area[keep])
    if tid.size == 0:
        return
    offset = np.arange(tid.size) - np.repeat(np.cumsum(area[keep]) - area[keep], area[keep])
    px = x0[tid] + offset % bw[tid]
    py = y0[tid] + offset // bw[tid]
    xs, ys = px + 0.5, py + 0.5
    a, b, c = p[tid, 0], p[tid, 1], p[tid, 2]
    den = (b[:, 1] - c[:, 1]) * (a[:, 0] - c[:, 0]) + (c[:, 0] - b[:, 0]) * (a[:, 1] - c[:, 1])
    ok = np.abs(den) > 1e-12
    den = np.where(ok, den, 1.0)
    l0 = ((b[:, 1] - c[:, 1]) * (xs - c[:, 0]) + (c[:, 0] - b[:, 0]) * (ys - c[:, 1])) / den
    l1 = ((c[:, 1] - a[:, 1]) * (xs - c[:, 0]) + (a[:, 0] - c[:, 0]) * (ys - c[:, 1])) / den
    l2 = 1.0 - l0 - l1
    inside = ok & (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
    tid, px, py = tid[inside], px[inside], py[inside]
    l0, l1, l2 = l0[inside], l1[inside], l2[inside]
    z = l0 * a[inside, 2] + l1 * b[inside, 2] + l2 * c[inside, 2] + z_bias
    flat = py * w + px
    # nearest candidate per pixel: sort by pixel, then by depth descending; take the first of each
    order = np.lexsort((-z, flat))
    flat, z = flat[order], z[order]
    first = np.ones(flat.size, dtype=bool)
    first[1:] = flat[1:] != flat[:-1]
    sel = order[first]
    flat, z = flat[first], z[first]
    zb = zbuf.reshape(-1)
    win = z > zb[flat]
    sel, flat = sel[win], flat[win]
    zb[flat] = z[win]
    t = tris[tid[sel]]
    col = (l0[sel, None] * colours[t[:, 0]] + l1[sel, None] * colours[t[:, 1]]
           + l2[sel, None] * colours[t[:, 2]])
    img.reshape(-1, 3)[flat] = col


def render_face(mesh: np.ndarray, size: int = 320, *, yaw_deg: float = 0.0, pitch_deg: float = 0.0,
                background: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Render a face mesh to an RGB image, offscreen.

    Parameters
    ----------
    mesh
        (478, 3) vertices in the template frame (``SessionResults.posefree_mesh``): x toward the
        subject's left, y up, z toward the viewer. Any uniform scale works (it is fitted to the image).
    size
        Output width and height in pixels.
    yaw_deg, pitch_deg
        Extra view rotation (0, 0 = frontal).
    background
        Background colour, sRGB 0..1 (white for print).

    Returns
    -------
    numpy.ndarray
        (size, size, 3) uint8.

    Raises
    ------
    SnapshotError
        Wrong shape or no finite vertex (a frame without a face).
    """
    v = np.asarray(mesh, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < int(triangles().max()) + 1:
        raise SnapshotError(f"expected a (478, 3) mesh, got shape {v.shape}")
    if not np.isfinite(v).all():
        raise SnapshotError("the mesh has missing vertices (no face in this frame)")
    if size < 16:
        raise SnapshotError(f"snapshot size must be at least 16 px, got {size}")
    tris = np.asarray(triangles(), dtype=np.int64)
    rot = _rotation(yaw_deg, pitch_deg)
    v = (v - v.mean(axis=0)) @ rot.T
    normals = vertex_normals(v.astype(np.float32), tris).astype(np.float64)
    # The mesh winding may face either way: orient normals toward the viewer on average.
    if normals[:, 2].mean() < 0:
        normals = -normals
    shade = AMBIENT + DIFFUSE * np.clip(normals @ LIGHT_DIR, 0.0, 1.0)
    colours = np.clip(shade[:, None] * np.asarray(SKIN_RGB)[None], 0.0, 1.0)

    n = size * SUPERSAMPLE
    used = np.unique(tris)
    lo, hi = v[used, :2].min(axis=0), v[used, :2].max(axis=0)
    scale = (1.0 - 2 * MARGIN) * n / max(float((hi - lo).max()), 1e-9)
    centre = (lo + hi) / 2.0
    pts = np.empty((len(v), 3))
    pts[:, 0] = (v[:, 0] - centre[0]) * scale + n / 2.0
    pts[:, 1] = -(v[:, 1] - centre[1]) * scale + n / 2.0  # image rows grow downward
    pts[:, 2] = v[:, 2] * scale

    img = np.empty((n, n, 3))
    img[:] = np.asarray(background, dtype=np.float64)
    zbuf = np.full((n, n), -np.inf)
    _raster(img, zbuf, pts, tris, colours)
    # Openings: fans behind the skin (negative bias), so they only show through the holes.
    for k, fan in enumerate(_openings()):
        ring = fan[:, 1]
        centre_pt = pts[ring].mean(axis=0)
        ext = np.vstack([pts, centre_pt[None]])
        fan_local = fan.copy()
        fan_local[:, 0] = len(pts)
        op_col = np.tile(np.asarray(OPENING_RGB), (len(ext), 1))
        _raster(img, zbuf, ext, fan_local, op_col, z_bias=-0.02 * n)
    out = img.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE, 3).mean(axis=(1, 3))
    return np.clip(np.round(out * 255.0), 0, 255).astype(np.uint8)
