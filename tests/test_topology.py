"""The face mesh triangles: re-derived from mediapipe, manifold, 4 boundary loops, consistent winding."""
from __future__ import annotations

from collections import Counter

import numpy as np

from facelens.core.face import topology
from facelens.core.face.geometry import template


def _directed_edges(tris: np.ndarray) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for t in tris for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))]


def test_stored_triangles_match_rederivation():
    derived = topology.derive_triangles()
    stored = topology.triangles()
    assert stored.dtype == np.int32 and stored.shape == (852, 3)
    np.testing.assert_array_equal(derived, stored)


def test_candidates_and_dropped_lids():
    import mediapipe as mp

    cands = topology._candidate_triangles(mp.solutions.face_mesh.FACEMESH_TESSELATION)
    assert len(cands) == 854
    kept = {tuple(sorted(t)) for t in topology.triangles().tolist()}
    assert set(cands) - kept == {(49, 64, 129), (279, 294, 358)}


def test_manifold_consistent_winding_and_loops():
    tris = topology.triangles()
    assert tris.min() == 0 and tris.max() == 467  # irises are not part of the surface
    directed = Counter(_directed_edges(tris))
    assert max(directed.values()) == 1, "a directed edge used twice: inconsistent winding"
    undirected = Counter(tuple(sorted(e)) for e in directed)
    assert max(undirected.values()) == 2  # manifold: no edge in three triangles
    loops = topology.boundary_loops(tris)
    assert sorted(len(loop) for loop in loops) == [16, 16, 20, 36]  # eyes, inner lips, outer contour
    # Euler characteristic of a sphere with 4 holes (one disc with 3 inner holes): 2 - 4 = -2
    v = len(np.unique(tris))
    assert v - len(undirected) + len(tris) == -2


def test_normals_face_the_viewer_on_the_template():
    n = topology.face_normals(template(), topology.triangles())
    assert (n[:, 2] > 0).mean() > 0.95
    vn = topology.vertex_normals(template())
    assert vn.shape == (478, 3) and vn.dtype == np.float32
    lengths = np.linalg.norm(vn[:468], axis=1)
    np.testing.assert_allclose(lengths, 1.0, atol=1e-5)
    assert vn[4, 2] > 0.9  # nose tip looks straight at the viewer
    assert np.all(vn[468:] == 0)


def test_vertex_normals_batch_equals_single():
    rng = np.random.default_rng(0)
    meshes = template()[None] + rng.normal(scale=0.05, size=(5, 478, 3))
    batch = topology.vertex_normals(meshes)
    single = np.stack([topology.vertex_normals(m) for m in meshes])
    np.testing.assert_allclose(batch, single, atol=1e-5)
