"""``facelens cohort simulate|train|evaluate|predict``: the BD-versus-MDD model on the command line.

Exit codes: 0 done, 2 unusable input (manifest, model, results, segments) or output folder,
1 a failure while writing, 3 ``predict`` refused (too little usable time, another sampling rate, features
outside the training cohort; the reasons are printed).
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from facelens.cli import UsageError
from facelens.cli._common import check_output_dir, usage_from_os_error
from facelens.cli.dynamics import open_inputs

#: Exit code of ``cohort predict`` when the input is not enough for a probability.
EXIT_REFUSED = 3


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("cohort", help="BD-vs-MDD model: simulate, train, evaluate, predict")
    cs = c.add_subparsers(dest="cohort_command", metavar="ACTION")
    c.set_defaults(func=lambda a: c.print_help())

    s = cs.add_parser("simulate", help="write a seeded simulated cohort (not patient data)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--n-bd", type=int, default=130)
    s.add_argument("--n-mdd", type=int, default=132)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--effect", type=float, default=1.0, help="scale of the group differences (0: none)")
    s.set_defaults(func=run_simulate)

    t = cs.add_parser("train", help="train with subject-level stratified cross-validation")
    t.add_argument("manifest", help="CSV: subject_id,diagnosis,results,segments (paths relative to it)")
    t.add_argument("--out", required=True, help="model folder to write (model.json + MODEL_CARD.md)")
    t.add_argument("--classifier", choices=("logreg", "gboost"), default="logreg")
    t.add_argument("--folds", type=int, default=5)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--model-id", default=None, help="id on the model card (default: the folder name)")
    t.add_argument("--features", choices=("va", "va+coef"), default="va",
                   help="valence/arousal dynamics only (default), or with the expression-coefficient dynamics "
                        "(results files need a morphable fit)")
    t.set_defaults(func=run_train)

    e = cs.add_parser("evaluate", help="score a trained model on another cohort (warns when it overlaps the training one)")
    e.add_argument("model", help="model folder or model.json")
    e.add_argument("manifest")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=run_evaluate)

    q = cs.add_parser("predict", help="probability of BD vs MDD for one subject (or a refusal, exit 3)")
    q.add_argument("paths", nargs="+", metavar="[MODEL] RESULT.h5",
                   help="optional model folder (default: the shipped reference model), then the results file")
    q.add_argument("--segments", required=True, help="segments CSV of the results file")
    q.add_argument("--json", action="store_true")
    q.add_argument("--nuisance-check", action="store_true",
                   help="re-analyse the recording under 3 nuisance perturbations and refuse when P(BD) moves > 0.1")
    q.set_defaults(func=run_predict)


def run_simulate(args: argparse.Namespace) -> int:
    from facelens.core.diagnosis.simulate import simulate_cohort

    if args.n_bd < 1 or args.n_mdd < 1:
        raise UsageError("--n-bd and --n-mdd must be at least 1")
    if not 0.0 <= args.effect <= 5.0:
        raise UsageError("--effect must be between 0 and 5")
    check_output_dir(args.out, "--out")
    try:
        manifest = simulate_cohort(args.out, args.n_bd, args.n_mdd, args.seed, args.effect)
    except OSError as exc:
        raise usage_from_os_error(exc) from None
    print(f"simulated cohort ({args.n_bd} BD, {args.n_mdd} MDD, seed {args.seed}, effect {args.effect}): {manifest}")
    print("SIMULATED data for testing and demonstration; not patient data.")
    return 0


def _load_cohort(manifest: str, names: Any = None) -> Any:
    from facelens.core.diagnosis.cohort import CohortError, load_cohort
    from facelens.core.diagnosis.features import FEATURE_NAMES

    try:
        return load_cohort(manifest, FEATURE_NAMES if names is None else names)
    except CohortError as exc:
        raise UsageError(str(exc)) from None


def _load_model(path: str | None) -> Any:
    from facelens.core.diagnosis.model import DiagnosisModelError, load_model

    try:
        return load_model(path)
    except DiagnosisModelError as exc:
        raise UsageError(str(exc)) from None


def run_train(args: argparse.Namespace) -> int:
    from facelens.core.diagnosis.cohort import CohortError, format_metrics, train_model
    from facelens.core.diagnosis.model import save_model

    if args.folds < 2:
        raise UsageError("--folds must be at least 2")
    out = check_output_dir(args.out, "--out")  # before the training, not after it
    import numpy as np

    from facelens.core.diagnosis.features import FEATURE_SETS

    cohort = _load_cohort(args.manifest, FEATURE_SETS[args.features])
    if args.features == "va+coef" and not np.isfinite(cohort.X[:, len(FEATURE_SETS["va"]):]).any():
        raise UsageError("--features va+coef: no results file of this cohort has expression coefficients "
                         "(analyse with the morphable fit, the default reconstruction)")
    try:
        model, cv = train_model(cohort, args.classifier, args.folds, args.seed, model_id=args.model_id or out.name)
    except CohortError as exc:
        raise UsageError(str(exc)) from None
    train_cmd = f"facelens cohort train SIM/manifest.csv --out {out.name} --classifier {args.classifier} " \
                f"--folds {args.folds} --seed {args.seed}"
    if args.features != "va":
        train_cmd += f" --features {args.features}"
    sim = cohort.simulation
    if sim:
        model.card["reproduce"] = (f"facelens cohort simulate --out SIM --n-bd {sim['n_bd']} --n-mdd {sim['n_mdd']} "
                                   f"--seed {sim['seed']} --effect {sim['effect']} && " + train_cmd)
    else:
        model.card["reproduce"] = train_cmd.replace("SIM/manifest.csv", Path(args.manifest).name)
    try:
        save_model(model, out)
    except OSError as exc:
        raise usage_from_os_error(exc) from None
    n = model.card["cohort"]["n_subjects"]
    print(f"{model.card['statement']}")
    print(f"subjects: {n['BD']} BD, {n['MDD']} MDD; {args.folds}-fold subject-level CV (mean ± SD over folds)")
    print("\n".join(format_metrics(cv.summary())))
    c = model.card["cv"]["pooled"]["confusion"]
    print(f"pooled out-of-fold: AUC {model.card['cv']['pooled']['AUC']:.3f}, "
          f"Brier {model.card['cv']['pooled']['Brier']:.3f}, TP {c['tp']} FN {c['fn']} FP {c['fp']} TN {c['tn']}")
    print(f"model written to {out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from facelens.core.diagnosis.cohort import METRICS, evaluate_model, training_overlap
    from facelens.core.dynamics import jsonable

    model = _load_model(args.model)
    cohort = _load_cohort(args.manifest, model.feature_names)
    overlap = training_overlap(model, cohort)
    warning = _overlap_warning(overlap)
    if warning:  # loudly, on stderr, whatever the output format
        print(f"WARNING: {warning}", file=sys.stderr)
    res = evaluate_model(model, cohort)
    simulated = bool(model.card.get("simulated", True))
    if args.json:
        print(json.dumps(jsonable({"model_id": model.card.get("model_id"), "simulated": simulated,
                                   "training_overlap": overlap, "warning": warning, "metrics": res}), indent=1))
        return 0
    if simulated:
        print("model trained on SIMULATED data; not validated on patients")
    kind = "external cohort" if overlap["checked"] and not overlap["n_overlap"] and not overlap["same_manifest"] \
        else "evaluation cohort"
    print(f"{kind}: {int(cohort.y.sum())} BD, {int((cohort.y == 0).sum())} MDD "
          "(value ± SD over 1000 subject bootstrap resamples)")
    if warning:
        print(f"WARNING: {warning}")
    for m in METRICS:
        print(f"{m} {res[m]['value']:.3f} ± {res[m]['sd']:.3f}")
    return 0


def _overlap_warning(overlap: dict[str, Any]) -> str:
    """The honest caveat for scores on a cohort the model has (partly) seen, or ``""``."""
    n, k = overlap["n_subjects"], overlap["n_overlap"]
    if overlap["same_manifest"]:
        return ("this is the model's own training cohort (same manifest SHA-256); the scores are "
                "optimistic and say nothing about new subjects")
    if k:
        return (f"{k} of {n} subjects were in the model's training cohort; the scores are optimistic "
                "(use a cohort without them for an external evaluation)")
    if not overlap["checked"]:
        return "the model card lists no training subjects, so overlap with this cohort cannot be checked"
    return ""


def _nuisance(res: Any, segs: Any, model: Any) -> tuple[float, list[float]] | None:
    """P(BD) under the validity harness's session perturbations, or None (said on stderr) without the video."""
    from facelens.core.validation.session_check import nuisance_probabilities

    video = Path(str(res.meta.get("video_path", "")))
    if not video.is_file():
        print("nuisance check skipped: the analysed recording is not available", file=sys.stderr)
        return None
    fps = float(res.params.get("fps", 10.0))
    estimator = str(res.meta.get("va_estimator", "circumplex"))  # the estimator the session was analysed with
    return nuisance_probabilities(video, segs, model, fps=fps, estimator=estimator)


def run_predict(args: argparse.Namespace) -> int:
    from facelens.core.diagnosis.model import Refusal, predict_subject
    from facelens.core.dynamics import jsonable

    if len(args.paths) > 2:
        raise UsageError("give at most a model and one results file")
    model = _load_model(args.paths[0] if len(args.paths) == 2 else None)
    res, segs = open_inputs(args.paths[-1], args.segments)
    with res:
        nuisance = _nuisance(res, segs, model) if args.nuisance_check else None
        ref, variants = nuisance if nuisance is not None else (None, None)
        out = predict_subject(model, [(res, segs)], nuisance_probabilities=variants, nuisance_reference=ref)
    if isinstance(out, Refusal):
        if args.json:
            print(json.dumps(jsonable({"refused": True, **asdict(out)}), indent=1))
        else:
            print("REFUSED: no probability is given for this subject, because")
            for r in out.reasons or [out.reason]:
                print(f"  - {r}")
            if out.simulated:
                print("The model was trained on SIMULATED data; real sessions rarely resemble it.")
        return EXIT_REFUSED
    if args.json:
        data = asdict(out)
        data.pop("card")
        print(json.dumps(jsonable({"refused": False, **data}), indent=1))
        return 0
    if out.simulated:
        print("MODEL TRAINED ON SIMULATED DATA — not validated on patients; research use only.")
    lo, hi = out.interval
    print(f"probability of BD (vs MDD): {out.probability_bd:.3f}  (fold models {lo:.3f}–{hi:.3f}); model {out.model_id}")
    if out.calibrated is not None:
        clo, chi, n = out.calibrated
        print(f"calibrated: of {n} training subjects with a similar cross-validated probability, "
              f"{clo:.0%}–{chi:.0%} had BD (Wilson 95 %)")
    if out.out_of_range:
        print(f"WARNING: far outside the training cohort (> 4 SD), the model extrapolates: {', '.join(out.out_of_range)}")
    if out.imputed_features:
        print(f"imputed (training mean, flagged): {', '.join(out.imputed_features)}")
    print("what moved it most:")
    for line in out.drivers_plain:
        print(f"  - {line}")
    print("usable time: " + ", ".join(f"{k} {v:.1f} s" for k, v in out.seconds.items()))
    return 0
