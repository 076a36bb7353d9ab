"""Identity leakage of the expression coefficients, measured on people the model never saw.

Neutral faces of different people should give expression coefficients near zero. The measure
(``docs/morphable.md``) compares two spreads, each in units of the quantity's range over
expressive material:

* coefficients: SD across the neutral people of each expression coefficient, over that
  coefficient's 1-99 % range on the reference frames (same model), averaged over coefficients;
* measures: the same for today's 20 expression measures on the same faces.

``ratio = coefficient spread / measure spread`` (target <= 0.5). The coefficients of a neutral
person must come from a model built **without** that person: :func:`heldout_still_coefficients`
rebuilds the model once per fold of people and fits each held-out face as a still (a one-frame
session: identity and expression from that image under the priors).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from facelens.core.face.morphable.build import BuildData, build_model
from facelens.core.face.morphable.fit import fit_session
from facelens.core.face.morphable.model import MorphableModel


def value_range(x: np.ndarray) -> np.ndarray:
    """(K,) 1-99 % range of each column of ``x`` (N, K), NaN rows ignored."""
    return np.nanpercentile(x, 99, axis=0) - np.nanpercentile(x, 1, axis=0)


def spread(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(K,) SD of each column of ``values`` over its 1-99 % range in ``reference``."""
    return np.nanstd(np.asarray(values, float), axis=0) / value_range(np.asarray(reference, float))


@dataclass
class Leakage:
    """Spreads per coefficient / measure and their means' ratio."""

    coefficients: np.ndarray
    measures: np.ndarray

    @property
    def ratio(self) -> float:
        return float(np.mean(self.coefficients) / np.mean(self.measures))


def leakage(neutral_coef: np.ndarray, reference_coef: np.ndarray, neutral_measures: np.ndarray,
            reference_measures: np.ndarray) -> Leakage:
    """:class:`Leakage` of neutral faces' coefficients (N, K) and measures (N, M) against references."""
    return Leakage(spread(neutral_coef, reference_coef), spread(neutral_measures, reference_measures))


def still_coefficients(model: MorphableModel, shapes: np.ndarray) -> np.ndarray:
    """(N, K_exp) expression coefficients of pose-free meshes (N, 478, 3), each fitted as a still."""
    return np.array([fit_session(x[None], np.ones(1, bool), model=model).expression[0] for x in shapes])


def person_folds(n: int, k: int, seed: int = 0) -> np.ndarray:
    """(n,) fold 0..k-1 of each person (random, balanced)."""
    return np.random.default_rng(seed).permutation(n) % k


def heldout_still_coefficients(data: BuildData, people: Sequence[int], folds: int = 5, seed: int = 0,
                               build: Callable[[BuildData], MorphableModel] = build_model,
                               reference: Callable[[MorphableModel], np.ndarray] | None = None
                               ) -> tuple[np.ndarray, list[np.ndarray]]:
    """Coefficients of the neutral stills ``people`` (indices into ``data.neutral_stills``), each
    from a model rebuilt without its fold of people; per fold, ``reference(model)`` (the
    coefficients of the reference frames under that fold's model) when given.

    Returns ((len(people), K_exp) coefficients, per-fold reference coefficients).
    """
    ids = np.asarray(people, int)
    fold = person_folds(len(ids), folds, seed)
    out: np.ndarray | None = None
    refs = []
    for f in range(folds):
        held = ids[fold == f]
        keep = np.setdiff1d(np.arange(len(data.neutral_stills)), held)
        model = build(BuildData(data.neutral_stills[keep], data.expressive_stills, data.videos, {}))
        coef = still_coefficients(model, data.neutral_stills[held])
        if out is None:
            out = np.full((len(ids), coef.shape[1]), np.nan)
        out[fold == f] = coef
        if reference is not None:
            refs.append(reference(model))
    assert out is not None
    return out, refs


def heldout_leakage(data: BuildData, people: Sequence[int], neutral_measures: np.ndarray,
                    reference_measures: np.ndarray, reference: Callable[[MorphableModel], np.ndarray],
                    folds: int = 5, seed: int = 0,
                    build: Callable[[BuildData], MorphableModel] = build_model) -> Leakage:
    """Leakage of held-out neutral stills: per fold, the held-out people's coefficient spread over
    the range of ``reference(model)`` under that fold's model, averaged over folds; the measures'
    spread of the same people (``neutral_measures`` rows in ``people`` order) over the range of
    ``reference_measures``."""
    ids = np.asarray(people, int)
    coef, refs = heldout_still_coefficients(data, people, folds, seed, build, reference)
    fold = person_folds(len(ids), folds, seed)
    per_fold = [spread(coef[fold == f], refs[f]) for f in range(folds)]
    return Leakage(np.mean(per_fold, axis=0), spread(neutral_measures, reference_measures))
