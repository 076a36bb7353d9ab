"""Nested cross-validation of G's hyper-parameters on DiffusionFER (the figure in models/g/MODEL_CARD.md).

Usage::

    python benchmarks/morphable_g_nested_cv.py --dataset DIFFUSIONFER --results STILLS --videos VIDEOS

Outer: the 5 stratified folds of ``g_data.fold_ids`` (the folds ``facelens eval-affect --cv 5``
reports; every image is a different person). On each outer training part an inner 2-fold CV
(``fold_ids(labels, 2, seed=1)``) scores every candidate by the mean of V-CCC, A-CCC and E-ACC; the
best is retrained on the whole outer training part and scored on the outer test fold. Printed: the
inner scores and choice per outer fold and the pooled out-of-fold metrics. The input coefficients
are those of the shipped morphable model. One torch thread.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

#: (epochs, input noise SD, ensemble members) candidates
CANDIDATES = ((30, 0.15, 5), (60, 0.3, 5))


def main() -> None:
    import torch

    from facelens.core.affect.datasets import affect_metrics, read_dataset
    from facelens.core.face.morphable import fit_session, load_default
    from facelens.core.results import SessionResults
    from facelens.core.training.g_data import FER_ORDER, appearance_column, fold_ids, still_table
    from facelens.core.training.g_train import GTrainConfig, predict_stills, train_g
    from facelens.core.training.morphable_data import session_posefree, video_files

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--videos", type=Path, nargs="*", default=[])
    args = ap.parse_args()
    torch.set_num_threads(1)
    morph = load_default()
    t = still_table(read_dataset(args.dataset), args.dataset, args.results, morph, log=lambda s: None)
    vids = []
    for f in video_files(list(args.videos)).values():
        p, ok = session_posefree(f)
        with SessionResults.open(f) as r:
            app, labels = appearance_column(r)
        vids.append(np.concatenate([fit_session(p, ok, model=morph).expression,
                                    np.asarray(app, float)[:, [labels.index(c) for c in FER_ORDER]]], axis=1))
    ok = t.ok & (t.label >= 0)
    x = t.inputs("coef+appearance")
    folds = np.full(len(x), -1)
    folds[ok] = fold_ids(t.label[ok], 5)

    def fit_predict(tr: np.ndarray, te: np.ndarray, cand: tuple[int, float, int]) -> tuple[np.ndarray, np.ndarray]:
        epochs, noise, members = cand
        reg = train_g(x[tr], t.va[tr], t.label[tr], [f"x{i}" for i in range(x.shape[1])], videos=vids,
                      cfg=GTrainConfig(epochs=epochs, noise=noise, members=members, seed=0), log=lambda s: None)
        return predict_stills(reg, x[te])

    def score(va: np.ndarray, p: np.ndarray, idx: np.ndarray) -> float:
        m = affect_metrics(va, t.va[idx], p, t.label[idx])
        return (m["V-CCC"] + m["A-CCC"] + m["E-ACC-7"]) / 3

    va_out, p_out = np.full((len(x), 2), np.nan), np.full((len(x), 7), np.nan)
    for f in range(5):
        tr, te = np.flatnonzero(ok & (folds != f)), np.flatnonzero(folds == f)
        inner = fold_ids(t.label[tr], 2, seed=1)
        scores = []
        for cand in CANDIDATES:
            va_i, p_i = np.full((len(tr), 2), np.nan), np.full((len(tr), 7), np.nan)
            for g in range(2):
                a, b = np.flatnonzero(inner != g), np.flatnonzero(inner == g)
                va_i[b], p_i[b] = fit_predict(tr[a], tr[b], cand)
            scores.append(score(va_i, p_i, tr))
        best = CANDIDATES[int(np.argmax(scores))]
        va_out[te], p_out[te] = fit_predict(tr, te, best)
        print(f"outer fold {f + 1}/5: inner scores {np.round(scores, 3).tolist()} -> {best}", flush=True)
    m = affect_metrics(np.where(ok[:, None], va_out, np.nan), t.va, p_out, t.label)
    print("nested CV:", ", ".join(f"{k} {m[k]:.3f}" for k in ("V-CCC", "A-CCC", "V-RMSE", "A-RMSE", "E-ACC-7")))


if __name__ == "__main__":
    main()
