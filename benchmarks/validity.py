"""The full validity harness: accuracy, reliability under nuisance, |corr(V, A)|, invariance, ablation, sensitivity.

Usage::

    python benchmarks/validity.py [--media DIR] [--out DIR] [--cache DIR] [--diffusionfer DIR]
                                  [--clips fast|videos|labelled|all] [--max-seconds S] [--estimator NAME ...]

Every clip is tracked once per perturbation variant (all 15 by default; cached under ``--cache``),
then each estimator (default: the shipped ``circumplex``, its fixed-anchor candidate and the
ablations ``appearance-only`` / ``geometry-only``, plus any registered candidate such as ``g``)
runs on the stored frames. ``--diffusionfer`` is a ``facelens batch`` output of
``../shared/datasets/diffusionfer`` with a ``labels.tsv`` (session_id, results, expression,
valence, arousal): the stored pipeline output is scored, and each estimator that was not fitted on
those labels is re-run on the stored stills. Writes ``validity.md`` (self-contained: tables and
plots) and ``validity.json`` to ``--out``. The shipped estimator is the baseline of every figure,
measured in the same run. CPU cost: about 3 s of tracking per clip and variant (10 labelled clips x
16 samplings ≈ 8 min on 2 busy cores), then seconds per estimator.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

DEFAULT_ESTIMATORS = ("circumplex", "circumplex-anchored", "appearance-only", "geometry-only")


def main() -> int:
    from facelens.core.validation import clips, estimators, perturb
    from facelens.core.validation.accuracy import CLASSES, read_cached, rescore, score
    from facelens.core.validation.harness import IN_SAMPLE_NOTE, HarnessConfig, run_harness
    from facelens.core.validation.report import write
    from facelens.core.validation.sensitivity import pipeline_sensitivity, sensitivity

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    ap.add_argument("--out", type=Path, default=Path("validity-report"))
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--diffusionfer", type=Path, default=None)
    ap.add_argument("--clips", choices=("fast", "videos", "labelled", "all"), default="labelled")
    ap.add_argument("--max-seconds", type=float, default=20.0)
    ap.add_argument("--estimator", action="append", default=None)
    args = ap.parse_args()
    if args.diffusionfer is not None and not (args.diffusionfer / "labels.tsv").is_file():
        ap.error(f"--diffusionfer {args.diffusionfer} has no labels.tsv (checked before the clips are tracked)")
    chosen = {"fast": clips.FAST, "videos": clips.VIDEOS,
              "labelled": tuple(c for c in clips.ALL if c.spans) + (clips.VIDEOS[3],), "all": clips.ALL}[args.clips]
    names = tuple(args.estimator or [e for e in DEFAULT_ESTIMATORS] + [e for e in estimators.available()
                                                                       if e not in DEFAULT_ESTIMATORS])
    cfg = HarnessConfig(media=args.media, clips=chosen, variants=tuple(v.name for v in perturb.variants()),
                        estimators=names, max_seconds=args.max_seconds, cache_dir=args.cache)
    t0 = time.perf_counter()
    result = run_harness(cfg, log=lambda m: print(m, flush=True))
    if "circumplex" in result["estimators"]:
        result["estimators"]["circumplex"]["sensitivity"] = sensitivity(result["runs"])
    if "g" in result["estimators"]:
        result["estimators"]["g"]["sensitivity"] = pipeline_sensitivity(result["runs"], "g")
    if args.diffusionfer is not None:
        labelled = read_cached(args.diffusionfer)
        acc = {}
        if labelled.estimator == "g":
            result["accuracy_note"] = IN_SAMPLE_NOTE
        else:
            acc["DiffusionFER, stored `facelens batch` output (shipped pipeline)"] = score(labelled)
        for name in names:
            fitted = bool(getattr(estimators.get(name), "fitted_on_diffusionfer", False))
            if not fitted:
                acc[f"DiffusionFER, estimator `{name}` re-run on the stored stills"] = rescore(args.diffusionfer,
                                                                                            estimators.get(name))
        from dataclasses import asdict

        result["accuracy"] = {k: asdict(v) for k, v in acc.items()}
        from facelens.core.validation.accuracy import label_abs_corr_va, neutral_spread, rerun

        result["identity"] = ({} if labelled.estimator == "g" else
                              {"shipped pipeline, DiffusionFER faces labelled neutral": neutral_spread(labelled)})
        result["identity"]["circumplex re-run on the stored stills, faces labelled neutral"] = neutral_spread(
            rerun(args.diffusionfer, estimators.get("circumplex")))
        # the yardstick of the frame-wise |corr(V, A)| target: what the labels themselves give
        result["label_corr_va"] = {"+".join(c): label_abs_corr_va(labelled, c) for c in
                                   (("happy", "sad"), ("happy", "sad", "neutral"), ("happy", "neutral"),
                                    ("sad", "neutral"), tuple(CLASSES))}
    result["wall_s"] = round(time.perf_counter() - t0, 1)
    cmd = (f"python benchmarks/validity.py --media MEDIA --clips {args.clips} --max-seconds {args.max_seconds:g}"
           + (" --diffusionfer DIFFUSIONFER_BATCH_OUTPUT" if args.diffusionfer else "")
           + "".join(f" --estimator {shlex.quote(e)}" for e in (args.estimator or [])))
    md = write(result, args.out, command=cmd)
    print(f"report: {md} ({result['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
