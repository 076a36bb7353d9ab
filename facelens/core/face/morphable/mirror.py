"""Left-right mirroring of pose-free meshes on mediapipe's topology.

The template (:func:`facelens.core.face.geometry.template`) is symmetric about ``x = 0``: every
point has a partner at the mirrored position (the 28 points on the midline are their own partner;
the two iris groups map onto each other). A mirrored mesh is ``x -> -x`` with every point moved to
its partner's index, so that it is again a mediapipe mesh (the left mouth corner stays "left").

The G estimator is run on a mesh and on its mirror image and averages the two
(:mod:`facelens.core.affect.g_session`): an expression and its mirror image then give the same
valence/arousal, whatever asymmetries the learned expression components have.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

N_FACE = 468  # points of the face mesh proper; 468..477 are the two irises


@lru_cache(maxsize=1)
def mirror_index() -> np.ndarray:
    """(478,) index of each point's mirror partner (an involution: ``m[m] == arange``)."""
    from scipy.spatial import cKDTree

    from facelens.core.face.geometry import template

    t = np.asarray(template(), np.float64)
    flipped = t * np.array([-1.0, 1.0, 1.0])
    idx = np.empty(len(t), np.int64)
    idx[:N_FACE] = cKDTree(t[:N_FACE]).query(flipped[:N_FACE])[1]
    idx[N_FACE:] = N_FACE + cKDTree(t[N_FACE:]).query(flipped[N_FACE:])[1]
    if not np.array_equal(idx[idx], np.arange(len(t))):
        raise ValueError("the face template is not left-right symmetric")
    idx.setflags(write=False)
    return idx


def mirror_meshes(posefree: np.ndarray) -> np.ndarray:
    """(N, 478, 3) mirror images of pose-free meshes (template frame), partner points swapped."""
    out = np.array(np.asarray(posefree)[:, mirror_index()], dtype=np.float64)
    out[..., 0] *= -1.0
    return out
