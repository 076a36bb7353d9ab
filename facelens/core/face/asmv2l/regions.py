"""Facial regions of the 478-point mesh and how the expression parameters bind to them.

Each vertex belongs to one of six regions (:data:`REGIONS`): the region whose seed landmarks
(mediapipe indices of brows, eye contours, nose, cheeks, lips, jaw line) contain the vertex's nearest
seed on the neutral template (3D distance, centimetres). The forehead falls to the brows (it moves with
them), the chin to the jaw.

An expression component of the morphable model is bound to regions by where it moves the face: its
*energy* in region r is the sum over r's vertices of the squared displacement of the component at one
standard deviation; the rows of :func:`component_region_share` are those energies normalised to sum to
one. The text branch modulates a component through region r in proportion to that share, so a phrase
about the mouth reaches mouth components first. :func:`region_sensitivity` is the static half of the
adaptive region weighting: the share of all expression energy a region holds per vertex, relative to the
face's mean (expression-sensitive regions > 1, rigid ones < 1).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

REGIONS: tuple[str, ...] = ("brows", "eyes", "cheeks", "nose", "mouth", "jaw")

# mediapipe face-mesh indices that certainly belong to each region
_SEEDS: dict[str, tuple[int, ...]] = {
    "brows": (70, 63, 105, 66, 107, 55, 65, 52, 53, 46, 300, 293, 334, 296, 336, 285, 295, 282, 283,
              276, 9, 151, 10, 108, 337, 69, 299),
    "eyes": (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173, 263, 249, 390,
             373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398, 468, 469, 470, 471, 472,
             473, 474, 475, 476, 477),
    "cheeks": (50, 280, 205, 425, 116, 345, 123, 352, 117, 346, 187, 411, 101, 330, 36, 266),
    "nose": (1, 2, 4, 5, 6, 19, 94, 97, 98, 326, 327, 129, 358, 195, 197, 168, 48, 278, 64, 294, 240,
             460, 45, 275),
    "mouth": (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185,
              78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191),
    "jaw": (152, 148, 176, 149, 150, 136, 172, 58, 132, 377, 400, 378, 379, 365, 397, 288, 361, 175, 199,
            200, 18, 201, 421),
}


def vertex_regions(template: np.ndarray | None = None) -> np.ndarray:
    """Region index (478,) of every vertex, by nearest seed on ``template`` (default the neutral one)."""
    if template is None:
        return _default_regions().copy()
    t = np.asarray(template, dtype=np.float64)
    seeds = np.concatenate([np.asarray(_SEEDS[r]) for r in REGIONS])
    owner = np.concatenate([np.full(len(_SEEDS[r]), k) for k, r in enumerate(REGIONS)])
    d = np.linalg.norm(t[:, None, :] - t[None, seeds, :], axis=-1)
    out = owner[np.argmin(d, axis=1)]
    out[seeds] = owner  # seeds keep their own region even where two regions' seeds coincide
    return out.astype(np.int64)


@lru_cache(maxsize=1)
def _default_regions() -> np.ndarray:
    from facelens.core.face.geometry import template

    return vertex_regions(template())


def region_energy(basis: np.ndarray, sd: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Energy (K, R) of each component at one SD in each region (sum of squared displacements)."""
    b = np.asarray(basis, dtype=np.float64) * np.asarray(sd, dtype=np.float64)[:, None, None]
    per_vertex = (b**2).sum(axis=2)  # (K, V)
    out = np.zeros((len(b), len(REGIONS)))
    for r in range(len(REGIONS)):
        out[:, r] = per_vertex[:, regions == r].sum(axis=1)
    return out


def component_region_share(basis: np.ndarray, sd: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Rows sum to one: how much of each expression component's motion lies in each region."""
    e = region_energy(basis, sd, regions)
    return e / np.maximum(e.sum(axis=1, keepdims=True), 1e-12)


def region_sensitivity(basis: np.ndarray, sd: np.ndarray, regions: np.ndarray) -> np.ndarray:
    """Expression energy per vertex of each region over the face's mean energy per vertex, (R,)."""
    e = region_energy(basis, sd, regions).sum(axis=0)
    counts = np.array([(regions == r).sum() for r in range(len(REGIONS))], dtype=np.float64)
    per_vertex = e / np.maximum(counts, 1.0)
    return per_vertex / max(float(e.sum() / counts.sum()), 1e-12)
