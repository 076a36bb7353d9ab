"""A closed face for the 3D view: a back shell behind the face outline and recessed caps in the eye and mouth
openings, so that orbiting never shows a hollow mask.

The 852-triangle MediaPipe surface has four boundary loops
(:func:`facelens.core.face.topology.boundary_loops`): the face outline (36 vertices), the inner lips (20)
and the two eye openings (16 each). Each loop gets its own copy of its vertices (same positions, so no
crack) and, behind it:

* the outline: a rounded back shell — three rings, each a copy of the outline pushed back along the face's
  forward axis and drawn in towards it, then a centre point — about one face width deep, which is roughly
  where the back of a head is behind the face outline (head length ≈ 1.3 × face width);
* the lips and eyes: a cone to a point well behind the opening, hidden behind the mouth interior and the
  eyeballs (``face_parts``), closing the surface there. With the video texture the eye caps are shallow
  (``TEXTURED_EYE_DEPTH``) and carry the frame's own eyes, and the mouth cap the frame's mouth.

The copies keep the closure's normals and texture coordinates apart from the face's: the face is smooth
and textured right up to its outline, the shell is lit on its own and takes one flat colour (the texture's
skin patch, :mod:`facelens.render.face_texture`). :attr:`ClosedFace.weld` maps every vertex to the one whose
position it copies; through it the surface has no boundary edge (``tests/test_render.py``).

Cost per frame: ~200 extra vertices computed with numpy (no Python loop over vertices), 304 extra triangles.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from facelens.render.face_parts import face_forward

#: Back shell rings behind the face outline: (depth behind the outline's centre in face widths, how far each
#: ring keeps the outline's spread around the forward axis). A rounded back; the centre point closes it.
SHELL_RINGS = ((0.32, 1.03), (0.66, 0.86), (0.90, 0.50))
SHELL_DEPTH = 1.0
#: How deep behind its opening a cone's tip lies, in widths of the opening (deeper than the mouth interior's
#: centre, a third of the mouth's width, and than the eyeballs' back, ~0.9 eye widths).
CAP_DEPTH = 1.1
#: With the video texture the eyes are the video's own (no eyeballs): shallow caps, a slightly sunken eye
#: surface carrying the frame's iris and sclera (a cone as deep as above would stretch them into a funnel).
TEXTURED_EYE_DEPTH = 0.12
#: A landmark of the inner lip contour (tells the mouth's loop from the eyes').
MOUTH_MARK = 13
#: Landmarks at the two ends of the face's width (the face outline at the ears' height).
CHEEK_L, CHEEK_R = 234, 454


@dataclass(frozen=True)
class ClosedFace:
    """The closed topology: the face's triangles plus the closure's, over ``n_vertices`` vertices.

    Attributes
    ----------
    faces : (F, 3) uint32
        The face's 852 triangles first, then the closure's (every triangle wound like the face's).
    n_base : int
        Vertices of the tracked mesh (478); closure vertices follow.
    weld : (n_vertices,) int64
        For each vertex, the vertex whose position it has (itself for all but the loop copies).
    outline, inner : the loops (indices into the tracked mesh), outline in the face's winding order.
    shell : (n_shell,) int64
        Closure vertices of the back shell (they take the texture's skin patch).
    caps : tuple of (ring copy indices, tip index) for the lips and eyes.
    """

    faces: np.ndarray
    n_base: int
    weld: np.ndarray
    outline: np.ndarray
    inner: tuple[np.ndarray, ...]
    shell: np.ndarray
    caps: tuple[tuple[np.ndarray, int], ...]

    @property
    def n_vertices(self) -> int:
        return len(self.weld)


def _wind_as_boundary(loop: list[int], tris: np.ndarray) -> np.ndarray:
    """The loop ordered so that its edges a→b run as they do in the face's triangles."""
    directed = {(int(t[k]), int(t[(k + 1) % 3])) for t in tris for k in range(3)}
    ring = np.asarray(loop, dtype=np.int64)
    return ring if (int(ring[0]), int(ring[1])) in directed else ring[::-1].copy()


def _strip(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int, int]]:
    """Triangles between ring ``a`` (edges a[i]→a[i+1] used by the surface in front) and ring ``b`` behind."""
    out = []
    n = len(a)
    for i in range(n):
        j = (i + 1) % n
        out.append((int(a[j]), int(a[i]), int(b[i])))
        out.append((int(a[j]), int(b[i]), int(b[j])))
    return out


def _fan(a: np.ndarray, tip: int) -> list[tuple[int, int, int]]:
    n = len(a)
    return [(int(a[(i + 1) % n]), int(a[i]), tip) for i in range(n)]


@lru_cache(maxsize=1)
def closed_face() -> ClosedFace:
    """The closed topology of the 478-point mesh (built once)."""
    from facelens.core.face import topology

    tris = np.asarray(topology.triangles(), dtype=np.int64)
    n_base = 478
    loops = sorted(topology.boundary_loops(tris), key=len)
    outline = _wind_as_boundary(loops[-1], tris)
    inner = tuple(_wind_as_boundary(lp, tris) for lp in loops[:-1])
    weld = list(range(n_base))
    faces: list[tuple[int, int, int]] = [tuple(int(x) for x in t) for t in tris]  # type: ignore[misc]

    def add(count: int, sources: np.ndarray | None = None) -> np.ndarray:
        start = len(weld)
        idx = np.arange(start, start + count, dtype=np.int64)
        weld.extend(range(start, start + count) if sources is None else (int(s) for s in sources))
        return idx

    prev = add(len(outline), outline)  # the outline's copy: same positions, the shell's own normals
    shell = [prev]
    for _ in SHELL_RINGS:
        ring = add(len(outline))
        faces += _strip(prev, ring)
        shell.append(ring)
        prev = ring
    tip = int(add(1)[0])
    faces += _fan(prev, tip)
    shell.append(np.array([tip]))
    caps = []
    for loop in inner:
        ring = add(len(loop), loop)
        cap_tip = int(add(1)[0])
        faces += _fan(ring, cap_tip)
        caps.append((ring, cap_tip))
    return ClosedFace(faces=np.asarray(faces, dtype=np.uint32), n_base=n_base,
                      weld=np.asarray(weld, np.int64), outline=outline, inner=inner, shell=np.concatenate(shell), caps=tuple(caps))


def close_vertices(v: np.ndarray, closed: ClosedFace | None = None,
                   eye_depth: float = CAP_DEPTH) -> np.ndarray:
    """Vertices of the closed face for view-space vertices ``v`` (478 points): ``v`` then the closure's.

    Parameters
    ----------
    v : (478, 3) array, finite (the view's upright space, :func:`face_mesh.upright_from_image`).
    eye_depth : how deep the eye caps' tips lie, in eye widths (``TEXTURED_EYE_DEPTH`` with the texture).

    Returns
    -------
    (closed.n_vertices, 3) float32
    """
    c = closed or closed_face()
    v = np.asarray(v, np.float32)
    out = np.empty((c.n_vertices, 3), np.float32)
    out[: c.n_base] = v[: c.n_base]
    fwd = face_forward(v)
    ring = v[c.outline]
    centre = ring.mean(axis=0)
    width = float(np.linalg.norm(v[CHEEK_R] - v[CHEEK_L])) or 1.0
    spread = ring - centre
    k = c.n_base
    n = len(ring)
    out[k:k + n] = ring
    k += n
    for depth, keep in SHELL_RINGS:
        out[k:k + n] = centre + spread * keep - fwd * (depth * width)
        k += n
    out[k] = centre - fwd * (SHELL_DEPTH * width)
    k += 1
    for loop in c.inner:
        pts = v[loop]
        size = float(np.ptp(pts, axis=0).max()) or width * 0.1
        m = len(loop)
        out[k:k + m] = pts
        depth = CAP_DEPTH if MOUTH_MARK in loop else eye_depth
        out[k + m] = pts.mean(axis=0) - fwd * (depth * size)
        k += m + 1
    return out
