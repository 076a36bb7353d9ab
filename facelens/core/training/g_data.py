"""Labelled stills analysed by the pipeline, as G's inputs and targets, and G's cross-validation."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.core.affect.fer import FER_LABELS, FER_TO_AFFECTNET
from facelens.core.affect.g_runtime import G_LABELS
from facelens.core.face.morphable import MorphableModel, fit_session
from facelens.core.face.morphable.mirror import mirror_meshes
from facelens.core.training.morphable_data import batch_sessions, session_posefree, still_session_id

#: The results file's emotion order (FER2013's); G's is AffectNet's (codes 0..6).
FER_ORDER = FER_LABELS
_FER_TO_G = FER_TO_AFFECTNET
INPUTS = ("coef", "coef+appearance")


@dataclass
class StillTable:
    """One row per labelled image (NaN rows: no usable face or no results file)."""

    session: list[str]
    coef: np.ndarray  # (N, K_exp) expression coefficients (the pipeline's fit of a 1-frame session)
    coef_mirror: np.ndarray  # (N, K_exp) the same of the mirror-image mesh (G averages the two)
    appearance: np.ndarray  # (N, 7) stored appearance posterior, FER order
    stored_va: np.ndarray  # (N, 2) valence/arousal stored by the pipeline
    stored_probs: np.ndarray  # (N, 7) stored emotions mapped to G's order
    va: np.ndarray  # (N, 2) labels
    label: np.ndarray  # (N,) AffectNet code 0..6 (-1: contempt or none)

    @property
    def ok(self) -> np.ndarray:
        return np.all(np.isfinite(self.coef), axis=1) & np.all(np.isfinite(self.appearance), axis=1)

    def inputs(self, kind: str, mirrored: bool = False) -> np.ndarray:
        """G's input rows: ``coef`` or ``coef+appearance`` (of the mirror-image meshes when ``mirrored``)."""
        if kind not in INPUTS:
            raise ValueError(f"unknown G inputs '{kind}' (use {' or '.join(INPUTS)})")
        coef = self.coef_mirror if mirrored else self.coef
        return coef if kind == "coef" else np.concatenate([coef, self.appearance], axis=1)


def to_g_order(probs: np.ndarray, labels: list[str]) -> np.ndarray:
    """(N, 7) probabilities in a results file's label order -> G's order."""
    cols = [labels.index(next(k for k, v in _FER_TO_G.items() if v == g)) for g in G_LABELS]
    return np.asarray(probs, np.float64)[:, cols]


def appearance_column(r: object) -> tuple[np.ndarray | None, list[str]]:
    """The appearance posterior of an open results file: ``emotions_appearance`` when stored, else ``emotions``."""
    app = getattr(r, "emotions_appearance", None)
    if app is not None:
        return np.asarray(app), list(getattr(r, "emotion_labels", FER_ORDER))
    return (None if r.emotions is None else np.asarray(r.emotions)), list(r.emotion_labels)  # type: ignore[attr-defined]


def require_current_appearance(r: object, path: Path) -> None:
    """Refuse a results file whose appearance posterior was made with other crops than this version
    makes (:data:`~facelens.core.affect.illumination.PREPROCESSING`): G trained or scored on it would
    learn posteriors that the analysis never gives it."""
    from facelens.core.affect.illumination import PREPROCESSING, recorded_preprocessing
    from facelens.core.results import ResultsError

    made = recorded_preprocessing(getattr(r, "meta", {}))
    if made != PREPROCESSING:
        raise ResultsError(f"{path.name}: its appearance posterior was made with '{made}' crops, this version makes "
                           f"'{PREPROCESSING}': analyse these files again with facelens batch")


def still_table(samples: list, dataset: Path, results: Path, morph: MorphableModel,
                log: Callable[[str], None] = print) -> StillTable:
    """Read the analyses of ``samples`` (:class:`~facelens.core.affect.datasets.Sample`) from ``results``."""
    from facelens.core.results import SessionResults

    files = batch_sessions(results)
    n, k = len(samples), morph.n_expression
    t = StillTable([], np.full((n, k), np.nan), np.full((n, k), np.nan), np.full((n, 7), np.nan),
                   np.full((n, 2), np.nan),
                   np.full((n, 7), np.nan), np.array([[s.valence, s.arousal] for s in samples], float),
                   np.array([s.label if s.label < 7 else -1 for s in samples]))
    missing = 0
    for i, s in enumerate(samples):
        sid = still_session_id(s.image, dataset)
        t.session.append(sid)
        f = files.get(sid)
        if f is None:
            missing += 1
            continue
        p, ok = session_posefree(f)
        if not ok[:1].any():
            continue
        t.coef[i] = fit_session(p[:1], ok[:1], model=morph).expression[0]
        t.coef_mirror[i] = fit_session(mirror_meshes(p[:1]), ok[:1], model=morph).expression[0]
        with SessionResults.open(f) as r:
            require_current_appearance(r, f)
            app, labels = appearance_column(r)
            emotions = r.emotions
            if app is not None:
                t.appearance[i] = np.asarray(app[0], np.float64)[[labels.index(x) for x in FER_ORDER]]
            if emotions is not None:
                t.stored_probs[i] = to_g_order(np.asarray(emotions[:1]), list(r.emotion_labels))[0]
            t.stored_va[i] = float(r.valence[0]), float(r.arousal[0])
    if missing:
        log(f"{missing} of {n} labelled images have no results file in {results}")
    return t


def fold_ids(label: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Stratified fold of each row (every image is a different person here, so no grouping is needed)."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(label), int)
    for c in np.unique(label):
        idx = rng.permutation(np.flatnonzero(label == c))
        out[idx] = np.arange(len(idx)) % k
    return out


def mirror_average(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """G's output for a face and for its mirror image, averaged (as :func:`affect.g_session.g_session`)."""
    return 0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1])


def cross_validate(table: StillTable, kind: str, k: int, cfg: object, videos: list[np.ndarray],
                   log: Callable[[str], None] = print) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold (VA (N, 2), probabilities (N, 7)) of G trained on the other folds, each face scored
    as the analysis scores it (mirror average)."""
    from facelens.core.training.g_train import predict_stills, train_g

    ok = table.ok & (table.label >= 0)
    x, xm = table.inputs(kind), table.inputs(kind, mirrored=True)
    folds = np.full(len(x), -1)
    folds[ok] = fold_ids(table.label[ok], k)
    va, p = np.full((len(x), 2), np.nan), np.full((len(x), 7), np.nan)
    for f in range(k):
        tr, te = np.flatnonzero((folds != f) & ok), np.flatnonzero(folds == f)
        reg = train_g(x[tr], table.va[tr], table.label[tr], [f"x{i}" for i in range(x.shape[1])],
                      videos=videos, cfg=cfg, log=lambda s: None)  # type: ignore[arg-type]
        va[te], p[te] = mirror_average(predict_stills(reg, x[te]), predict_stills(reg, xm[te]))
        log(f"fold {f + 1}/{k}: trained on {len(tr)}, scored {len(te)}")
    return va, p
