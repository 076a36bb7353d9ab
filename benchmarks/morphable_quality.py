"""Morphable model quality: landmark error on held-out clips and identity leakage, vs the 20 measures.

Usage::

    python benchmarks/morphable_quality.py --dataset DIFFUSIONFER --stills STILLS_BATCH \
        --videos VIDEO_RESULTS... --corpus CORPUS_BATCH [--selection]

``--dataset/--stills/--videos`` are the build inputs of ``facelens recon build-model``;
``--corpus`` holds analyses of other clips (never used to build). Two models are built from the
same inputs and scored the same way: the first shipped recipe (17 identity + 21 expression
components, plain PCA: the baseline) and the current one (``build_model`` defaults).

* **Landmark error**: mean distance of the causal fit to the tracked mesh (468 points), in units of
  each frame's inter-ocular distance, over the usable frames of the corpus clips (mean, 95th pct).
* **Identity leakage, stills** (:mod:`facelens.core.face.morphable.leakage`): the neutral
  DiffusionFER people are split by person: ``N_SELECTION`` people (seed ``SELECTION_SEED``) chose
  the current recipe's component counts (``--selection`` prints that score: model built without
  them, ranges from the expressive build stills); the **report** people are scored in 5 folds,
  each fold's model rebuilt without them and fitted to them as stills. Spread = SD across those
  people of each coefficient over its 1-99 % range on the corpus frames (same model); today's
  measures: the same for the 20 stored measures on the same images. Also over all neutral people.
* **Identity leakage, videos**: the same spread over the mean of each held-out corpus person's
  neutral span (times from the corpus MANIFEST.tsv descriptions, table below), with the causal fit
  and with the session rule the analysis stores (:func:`facelens.core.affect.g_session.g_session`:
  each frame against the identity of the session's other frames plus its own deviation).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# Neutral spans (s) as the corpus MANIFEST.tsv / FACTS.md describe them ("0-0.5s neutral", ...).
NEUTRAL_SPANS = {"LivePortrait_d0": [(0.0, 0.5), (2.9, 3.1)], "LivePortrait_d18": [(1.6, 2.0), (5.4, 6.6)],
                 "LivePortrait_d19": [(0.7, 3.5)], "LivePortrait_d14": [(8.8, 9.2)], "TPSMM_driving": [(0.4, 0.8)],
                 "LivePortrait_d9": [(1.6, 2.0)], "pyfeat_single_face": [(0.0, 0.6)], "liveportrait_d3": [(6.0, 9.0)]}
SELECTION_SEED, N_SELECTION = 2026, 100
BASELINE = {"k_id": 17, "k_exp": 21, "exp_method": "pca"}


def main() -> None:
    from facelens.core.affect.datasets import read_dataset
    from facelens.core.affect.g_session import g_session, in_memory
    from facelens.core.face.morphable import fit_session
    from facelens.core.face.morphable.build import BuildData, build_model
    from facelens.core.face.morphable.leakage import heldout_leakage, leakage, spread, still_coefficients
    from facelens.core.training.morphable_data import (
        load_build_data,
        single_person,
        still_session_id,
        video_files,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--stills", type=Path, required=True)
    ap.add_argument("--videos", type=Path, nargs="*", default=[])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--selection", action="store_true", help="also print the selection-split score")
    args = ap.parse_args()
    samples = read_dataset(args.dataset)
    labels = {still_session_id(s.image, args.dataset): s.label for s in samples}
    data = load_build_data(labels, args.stills, list(args.videos))
    neutral_m, expressive_m = _still_measures(labels, args.stills)
    build_names = set(video_files(list(args.videos)))
    corpus = {k: f for k, f in video_files([args.corpus]).items() if k not in build_names and single_person(f)}
    meshes = {k: _posefree(f) for k, f in corpus.items()}
    measures = np.concatenate([_stored(f, "expressions", True) for f in corpus.values()])

    def corpus_coef(m):
        return np.concatenate([fit_session(p, ok, model=m).expression[ok] for p, ok in meshes.values()])

    n = len(data.neutral_stills)
    order = np.random.default_rng(SELECTION_SEED).permutation(n)
    sel, rep = np.sort(order[:N_SELECTION]), np.sort(order[N_SELECTION:])
    print(f"{n} neutral stills ({len(sel)} selection, {len(rep)} report people), {len(data.expressive_stills)} "
          f"expressive stills, {len(data.videos)} build videos, {len(corpus)} held-out corpus clips")
    for name, kw in (("baseline (first shipped recipe)", BASELINE), ("current", {})):
        full = build_model(data, **kw)
        res = np.concatenate([fit_session(p, ok, model=full).residual[ok] for p, ok in meshes.values()])
        print(f"\n== {name}: {full.n_identity} identity + {full.n_expression} expression components")
        print(f"landmark error, {len(corpus)} held-out corpus clips ({len(res)} frames), inter-ocular units: "
              f"mean {res.mean():.4f}, p95 {np.percentile(res, 95):.4f}")
        if args.selection:
            m = build_model(BuildData(data.neutral_stills[rep], data.expressive_stills, data.videos, {}), **kw)
            lk = leakage(still_coefficients(m, data.neutral_stills[sel]), still_coefficients(m, data.expressive_stills),
                         neutral_m[sel], expressive_m)
            print(f"selection split ({len(sel)} people, ranges from the expressive stills): ratio {lk.ratio:.3f}")
        for what, people in ((f"{len(rep)} report", rep), (f"all {n}", np.arange(n))):
            lk = heldout_leakage(data, people, neutral_m[people], measures, corpus_coef,
                                 build=lambda d, kw=kw: build_model(d, **kw))
            print(f"identity leakage, {what} neutral stills (held out, 5 folds): coefficients "
                  f"{lk.coefficients.mean():.3f} (leading 5: {lk.coefficients[:5].mean():.3f}) vs measures "
                  f"{lk.measures.mean():.3f}; ratio {lk.ratio:.2f}")
        for rule in ("causal fit", "session rule"):
            coefs, meas, all_c, all_m = [], [], [], []
            for k, f in corpus.items():
                p, ok = meshes[k]
                t, e = _stored(f, "time_s"), _stored(f, "expressions")
                c = (fit_session(p, ok, model=full).expression if rule == "causal fit"
                     else g_session(in_memory(p, ok), t, None, full).expression)
                all_c.append(c[ok])
                all_m.append(e[ok])
                if k in NEUTRAL_SPANS:
                    s = ok & np.any([(t >= a) & (t <= b) for a, b in NEUTRAL_SPANS[k]], axis=0)
                    coefs.append(np.nanmean(c[s], axis=0))
                    meas.append(np.nanmean(e[s], axis=0))
            vc, vm = spread(np.array(coefs), np.concatenate(all_c)), spread(np.array(meas), np.concatenate(all_m))
            print(f"identity leakage, neutral spans of {len(coefs)} held-out corpus people ({rule}): coefficients "
                  f"{vc.mean():.3f} (leading 5: {vc[:5].mean():.3f}) vs measures {vm.mean():.3f}; "
                  f"ratio {vc.mean() / vm.mean():.2f}")


def _posefree(path: Path) -> tuple[np.ndarray, np.ndarray]:
    from facelens.core.training.morphable_data import session_posefree

    return session_posefree(path)


def _still_measures(labels: dict[str, int], stills: Path) -> tuple[np.ndarray, np.ndarray]:
    """The 20 stored measures of the neutral and the expressive stills, in ``load_build_data``'s order."""
    from facelens.core.training.morphable_data import batch_sessions

    files = batch_sessions(stills)
    neutral, expressive = [], []
    for sid, label in labels.items():
        f = files.get(sid)
        if f is None:
            continue
        _, ok = _posefree(f)
        if ok.any():
            (neutral if label == 0 else expressive).append(_stored(f, "expressions")[np.flatnonzero(ok)[0]])
    return np.array(neutral), np.array(expressive)


def _stored(path: Path, name: str, usable_only: bool = False) -> np.ndarray:
    from facelens.core.results import SessionResults

    with SessionResults.open(path) as r:
        x = np.asarray(getattr(r, name))
        return x[r.usable] if usable_only else x


if __name__ == "__main__":
    main()
