"""Triangles of the 478-point face mesh and per-vertex normals (numpy only at run time).

mediapipe publishes its face mesh as an edge list (``FACEMESH_TESSELATION``), not as triangles.
:func:`derive_triangles` rebuilds the triangles once: every 3-cycle of the edge graph is a
candidate (854 of them); the two candidates all of whose edges already bound two other
triangles, (49, 64, 129) and (279, 294, 358), are holes' "lids" rather than faces and are dropped.
The 852 triangles left form one manifold surface (a disc with 4 boundary loops: the outer contour,
the lips and the two eyes). Their winding is made consistent by walking across shared edges, and
chosen so that normals point toward the camera (+z) in the template frame of
:mod:`facelens.core.face.geometry` (x to the subject's left, y up, z toward the viewer).
The result is stored in ``data/face_triangles.npy`` so that rendering never imports mediapipe; the
iris points (468-477) are not part of the surface.
"""
from __future__ import annotations

from collections import defaultdict, deque
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

TRIANGLES_FILE = Path(__file__).parent / "data" / "face_triangles.npy"


def _candidate_triangles(edges: Iterable[tuple[int, int]]) -> list[tuple[int, int, int]]:
    adj: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        if a != b:
            adj[a].add(b)
            adj[b].add(a)
    tris = []
    for a in adj:
        for b in adj[a]:
            if b <= a:
                continue
            for c in adj[a] & adj[b]:
                if c > b:
                    tris.append((a, b, c))
    return sorted(tris)


def _edge_use(tris: Iterable[tuple[int, int, int]]) -> dict[tuple[int, int], list[int]]:
    use: dict[tuple[int, int], list[int]] = defaultdict(list)
    for k, (a, b, c) in enumerate(tris):
        for u, v in ((a, b), (b, c), (c, a)):
            use[(min(u, v), max(u, v))].append(k)
    return use


def _orient(tris: list[tuple[int, int, int]]) -> np.ndarray:
    """Flip triangles so that neighbours traverse their shared edge in opposite directions."""
    use = _edge_use(tris)
    out = [list(t) for t in tris]
    done = np.zeros(len(tris), bool)
    for seed in range(len(tris)):
        if done[seed]:
            continue
        done[seed] = True
        queue = deque([seed])
        while queue:
            k = queue.popleft()
            a, b, c = out[k]
            for u, v in ((a, b), (b, c), (c, a)):
                for j in use[(min(u, v), max(u, v))]:
                    if done[j]:
                        continue
                    t = out[j]
                    # neighbour j must contain the directed edge v->u; flip it if it has u->v
                    directed = {(t[0], t[1]), (t[1], t[2]), (t[2], t[0])}
                    if (u, v) in directed:
                        out[j] = [t[0], t[2], t[1]]
                    done[j] = True
                    queue.append(j)
    return np.asarray(out, dtype=np.int32)


def derive_triangles(edges: Iterable[tuple[int, int]] | None = None,
                     reference: np.ndarray | None = None) -> np.ndarray:
    """Rebuild the consistently wound face triangles from mediapipe's tessellation edges.

    Parameters
    ----------
    edges
        Undirected or directed vertex pairs; default ``mp.solutions.face_mesh.FACEMESH_TESSELATION``.
    reference
        Vertices (>= 468, 3) in a y-up, z-toward-viewer frame used to pick the global winding;
        default the neutral template.

    Returns
    -------
    numpy.ndarray
        (852, 3) int32, counter-clockwise seen from the front of the face.
    """
    if edges is None:
        import mediapipe as mp  # only here: deriving is a one-off, loading is not

        edges = mp.solutions.face_mesh.FACEMESH_TESSELATION
    cands = _candidate_triangles(edges)
    use = _edge_use(cands)

    def crowded(t: tuple[int, int, int]) -> bool:
        a, b, c = t
        return all(len(use[(min(u, v), max(u, v))]) > 2 for u, v in ((a, b), (b, c), (c, a)))

    tris = _orient([t for t in cands if not crowded(t)])
    if reference is None:
        from facelens.core.face.geometry import template

        reference = template()
    n = face_normals(np.asarray(reference, dtype=np.float64), tris)
    if n[:, 2].sum() < 0:  # area-weighted: most of the face should look at the viewer
        tris = tris[:, [0, 2, 1]]
    # a canonical row order so that re-derivation compares equal
    tris = _rotate_min_first(tris)
    return tris[np.lexsort(tris.T[::-1])].astype(np.int32)


def _rotate_min_first(tris: np.ndarray) -> np.ndarray:
    """Cyclically rotate each triangle so its smallest index comes first (winding unchanged)."""
    k = np.argmin(tris, axis=1)
    idx = (k[:, None] + np.arange(3)[None, :]) % 3
    return np.take_along_axis(tris, idx, axis=1)


@lru_cache(maxsize=1)
def _triangles_cached() -> np.ndarray:
    t = np.load(TRIANGLES_FILE)
    t.setflags(write=False)
    return t


def triangles() -> np.ndarray:
    """The face mesh's triangles, (852, 3) int32 (read-only), from ``data/face_triangles.npy``."""
    return _triangles_cached()


def face_normals(vertices: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Un-normalised triangle normals (area-weighted), (T, 3)."""
    v = np.asarray(vertices)
    a, b, c = v[tris[:, 0]], v[tris[:, 1]], v[tris[:, 2]]
    return np.cross(b - a, c - a)


def vertex_normals(vertices: np.ndarray, tris: np.ndarray | None = None) -> np.ndarray:
    """Unit vertex normals, the area-weighted mean of the adjacent triangles' normals.

    Parameters
    ----------
    vertices
        (V, 3) or (N, V, 3) float array.
    tris
        (T, 3) triangles; default :func:`triangles`.

    Returns
    -------
    numpy.ndarray
        Same shape as ``vertices``, float32; vertices in no triangle (the irises) get (0, 0, 0).
    """
    if tris is None:
        tris = triangles()
    v = np.asarray(vertices, dtype=np.float32)
    batched = v.ndim == 3
    vb = v if batched else v[None]
    a, b, c = vb[:, tris[:, 0]], vb[:, tris[:, 1]], vb[:, tris[:, 2]]
    fn = np.cross(b - a, c - a)
    # vertex <- triangle incidence as a dense matrix: one matmul scatters every batch at once
    n, t = fn.shape[:2]
    inc = _incidence(np.asarray(tris), vb.shape[1])
    out = (inc @ fn.transpose(1, 0, 2).reshape(t, n * 3)).reshape(-1, n, 3).transpose(1, 0, 2)
    norm = np.linalg.norm(out, axis=2, keepdims=True)
    out = np.divide(out, norm, out=np.zeros_like(out), where=norm > 0)
    return out if batched else out[0]


def _incidence(tris: np.ndarray, n_vertices: int) -> np.ndarray:
    m = np.zeros((n_vertices, len(tris)), dtype=np.float32)
    for k in range(3):
        m[tris[:, k], np.arange(len(tris))] = 1.0
    return m


def boundary_loops(tris: np.ndarray) -> list[list[int]]:
    """Closed vertex loops formed by the edges that belong to exactly one triangle."""
    use = _edge_use([tuple(t) for t in np.asarray(tris).tolist()])
    nxt: dict[int, list[int]] = defaultdict(list)
    for (u, v), ks in use.items():
        if len(ks) == 1:
            nxt[u].append(v)
            nxt[v].append(u)
    seen: set[int] = set()
    loops = []
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            options = [w for w in nxt[cur] if w != prev]
            if not options or options[0] == start:
                break
            prev, cur = cur, options[0]
            if cur in seen:
                break
            seen.add(cur)
            loop.append(cur)
        loops.append(loop)
    return loops
