"""``facelens validate``: the validity harness's fast subset (the full run is ``benchmarks/validity.py``).

Tracks two short real clips under a few nuisance perturbations, then reports reliability (ICC(2,1)
and largest shift of segment means), frame-wise |corr(V, A)|, segment-order and head-pose effects
and the reference model's answers, as ``validity.md`` + ``validity.json`` in ``--out``. Exit codes:
0 done (the figures may miss their targets: read the report), 2 unusable media folder or output.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from facelens.cli import UsageError
from facelens.cli._common import check_output_dir
from facelens.core.affect.choice import DEFAULT_ESTIMATOR


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="validity harness, fast subset (reliability, |corr(V,A)|, order, refusals)")
    p.add_argument("--media", default=os.environ.get("FACELENS_MEDIA"),
                   help="folder with videos/ and corpus/ (default: $FACELENS_MEDIA)")
    p.add_argument("--out", default="validity-report", help="report folder (default: validity-report)")
    p.add_argument("--estimator", action="append", default=None,
                   help="estimator to score (repeatable; default: circumplex); see --list")
    p.add_argument("--variants", default="light_from_left,gamma_1.4,phase_half_step",
                   help="comma-separated perturbations (default: %(default)s)")
    p.add_argument("--diffusionfer", default=None,
                   help="a `facelens batch` output of the DiffusionFER faces with labels.tsv (accuracy section)")
    p.add_argument("--cache", default=None, help="folder for cached tracking (default: none)")
    p.add_argument("--list", action="store_true", help="list the estimators and perturbations, then exit")
    p.set_defaults(func=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from facelens.core.validation import clips, estimators, perturb
    from facelens.core.validation.harness import HarnessConfig, run_harness
    from facelens.core.validation.report import write

    if args.list:
        print("estimators: " + ", ".join(estimators.available()))
        print("perturbations: " + ", ".join(f"{v.name} ({v.family})" for v in perturb.variants()))
        return 0
    if not args.media:
        raise UsageError("give --media (the folder with videos/ and corpus/) or set FACELENS_MEDIA")
    media = Path(args.media)
    if not (media / "videos").is_dir():
        raise UsageError(f"--media {media} has no videos/ folder")
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    try:
        for n in names:
            perturb.variant(n)
        wanted = args.estimator or list(dict.fromkeys([DEFAULT_ESTIMATOR, "circumplex"]))  # the default + the other
        for e in wanted:
            estimators.get(e)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    dfer = Path(args.diffusionfer) if args.diffusionfer else None
    if dfer is not None and not (dfer / "labels.tsv").is_file():
        raise UsageError(f"--diffusionfer {dfer} has no labels.tsv")
    out = check_output_dir(args.out, "--out")
    specs = clips.available(media, clips.FAST)
    if not specs:
        raise UsageError(f"--media {media} holds none of the fast-subset clips")
    cfg = HarnessConfig(media=media, clips=specs, variants=names, estimators=wanted,
                        cache_dir=Path(args.cache) if args.cache else None, diffusionfer=dfer)
    result = run_harness(cfg, log=lambda m: print(m, flush=True))
    md = write(result, out, command="facelens validate --media MEDIA --out " + out.name)
    for est, r in result["estimators"].items():
        worst_icc = min(min(s["seg_icc_v"], s["seg_icc_a"]) for s in r["families"].values())
        worst_shift = max(max(s["seg_shift_v"], s["seg_shift_a"]) for s in r["families"].values())
        common = max([max(s["common_shift_v"], s["common_shift_a"]) for s in r["families"].values()
                      if "common_shift_v" in s] or [float("nan")])
        order = max([max(o["valence"], o["arousal"]) for o in r["order"].values()] or [float("nan")])
        corr = max(r["corr_va"].values()) if r["corr_va"] else float("nan")
        print(f"{est}: worst segment-mean ICC {worst_icc:.3f} (target >= 0.9), largest shift {worst_shift:.3f} "
              f"(<= 0.1; {common:.3f} on the frames both runs kept), max |corr(V,A)| {corr:.2f} (<= 0.6), "
              f"order effect {order:.3f} (<= 0.02)")
    print(f"report: {md}")
    return 0
