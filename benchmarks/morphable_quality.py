"""Morphable model quality: landmark error on held-out clips and identity leakage, vs the 20 measures.

Usage::

    python benchmarks/morphable_quality.py --dataset DIFFUSIONFER --stills STILLS_BATCH \
        --videos VIDEO_RESULTS... --corpus CORPUS_BATCH

``--dataset/--stills/--videos`` are the build inputs of ``facelens recon build-model``;
``--corpus`` holds analyses of other clips (never used to build). Reported:

* **Landmark error**: mean distance of the causal fit to the tracked mesh (468 points), in units of
  each frame's inter-ocular distance, over the usable frames of the corpus clips (mean, 95th pct).
* **Identity leakage, stills**: the neutral DiffusionFER people are split in 5 folds; per fold the
  model is rebuilt without them (same component counts) and fitted to them as stills. Spread =
  SD across those people of each expression coefficient, divided by that coefficient's 1-99 %
  range over the corpus frames (same model). Today's measures: SD of the 20 stored measures on
  the same images over their 1-99 % range on the corpus. Mean over coefficients / measures.
* **Identity leakage, videos**: the same spread over the mean of each person's neutral span
  (times from the corpus MANIFEST.tsv descriptions, table below), coefficients from the causal fit.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

# Neutral spans (s) as the corpus MANIFEST.tsv / FACTS.md describe them ("0-0.5s neutral", ...).
NEUTRAL_SPANS = {"LivePortrait_d0": [(0.0, 0.5), (2.9, 3.1)], "LivePortrait_d18": [(1.6, 2.0), (5.4, 6.6)],
                 "LivePortrait_d19": [(0.7, 3.5)], "LivePortrait_d14": [(8.8, 9.2)], "TPSMM_driving": [(0.4, 0.8)],
                 "LivePortrait_d9": [(1.6, 2.0)], "pyfeat_single_face": [(0.0, 0.6)], "liveportrait_d3": [(6.0, 9.0)]}


def _range(x: np.ndarray) -> np.ndarray:
    return np.nanpercentile(x, 99, axis=0) - np.nanpercentile(x, 1, axis=0)


def main() -> None:
    from facelens.core.affect.datasets import read_dataset
    from facelens.core.face.morphable import fit_session
    from facelens.core.face.morphable.build import BuildData, build_model
    from facelens.core.training.morphable_data import (
        batch_sessions,
        load_build_data,
        session_posefree,
        single_person,
        still_session_id,
        video_files,
    )

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", type=Path, required=True)
    ap.add_argument("--stills", type=Path, required=True)
    ap.add_argument("--videos", type=Path, nargs="*", default=[])
    ap.add_argument("--corpus", type=Path, required=True)
    args = ap.parse_args()
    samples = read_dataset(args.dataset)
    labels = {still_session_id(s.image, args.dataset): s.label for s in samples}
    data = load_build_data(labels, args.stills, list(args.videos))
    full = build_model(data)
    build_names = set(video_files(list(args.videos)))
    corpus = {k: f for k, f in video_files([args.corpus]).items() if k not in build_names and single_person(f)}
    spans_all = {k: f for k, f in video_files([args.corpus] + list(args.videos)).items() if k in NEUTRAL_SPANS}
    meshes = {k: session_posefree(f) for k, f in corpus.items()}
    measures = np.concatenate([_stored(f, "expressions", True) for f in corpus.values()])

    res = np.concatenate([fit_session(p, ok, model=full).residual[ok] for p, ok in meshes.values()])
    print(f"model: {full.n_identity} identity + {full.n_expression} expression components")
    print(f"landmark error on {len(corpus)} held-out corpus clips ({len(res)} frames), inter-ocular units: "
          f"mean {res.mean():.4f}, p95 {np.percentile(res, 95):.4f}")

    files = batch_sessions(args.stills)
    neutral_ids = [still_session_id(s.image, args.dataset) for s in samples if s.label == 0]
    neutral_measures = np.array([m[0] for m in (_stored(files[i], "expressions", True) for i in neutral_ids
                                                 if i in files) if len(m)])
    folds = np.random.default_rng(0).permutation(len(data.neutral_stills)) % 5
    spread = []
    for f in range(5):
        part = BuildData(data.neutral_stills[folds != f], data.expressive_stills, data.videos, {})
        m = build_model(part, k_id=full.n_identity, k_exp=full.n_expression)
        held = np.array([fit_session(x[None], np.ones(1, bool), model=m).expression[0]
                         for x in data.neutral_stills[folds == f]])
        corpus_coef = np.concatenate([fit_session(p, ok, model=m).expression[ok] for p, ok in meshes.values()])
        spread.append(held.std(axis=0) / _range(corpus_coef))
    lc = np.mean(spread, axis=0)
    lm = neutral_measures.std(axis=0) / _range(measures)
    print(f"identity leakage, {len(neutral_measures)} neutral stills (held out, 5 folds): coefficients "
          f"{lc.mean():.3f} (leading 5: {lc[:5].mean():.3f}) vs measures {lm.mean():.3f}; ratio {lc.mean() / lm.mean():.2f}")

    coefs, meas, all_c, all_m = [], [], [], []
    for k, f in video_files([args.corpus] + list(args.videos)).items():
        if not single_person(f):
            continue
        p, ok = session_posefree(f)
        c = fit_session(p, ok, model=full).expression
        t, e = _stored(f, "time_s"), _stored(f, "expressions")
        all_c.append(c[ok])
        all_m.append(e[ok])
        if k in spans_all:
            sel = ok & np.any([(t >= a) & (t <= b) for a, b in NEUTRAL_SPANS[k]], axis=0)
            coefs.append(np.nanmean(c[sel], axis=0))
            meas.append(np.nanmean(e[sel], axis=0))
    vc = np.std(coefs, axis=0) / _range(np.concatenate(all_c))
    vm = np.std(meas, axis=0) / _range(np.concatenate(all_m))
    print(f"identity leakage, neutral spans of {len(coefs)} video people: coefficients {vc.mean():.3f} "
          f"(leading 5: {vc[:5].mean():.3f}) vs measures {vm.mean():.3f}; ratio {vc.mean() / vm.mean():.2f}")


def _stored(path: Path, name: str, usable_only: bool = False) -> np.ndarray:
    from facelens.core.results import SessionResults

    with SessionResults.open(path) as r:
        x = np.asarray(getattr(r, name))
        return x[r.usable] if usable_only else x


if __name__ == "__main__":
    main()
