"""``facelens dynamics`` and ``facelens cohort simulate|train|evaluate|predict``."""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from facelens.cli import CommandError, UsageError

#: Exit code of ``cohort predict`` when the input is not enough for a probability.
EXIT_REFUSED = 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dynamics", help="valence/arousal statistics and dynamics indices per segment",
                       description="Per-label mean ± SD of frame-level valence/arousal and dynamics indices "
                                   "(SD, MSSD, PAC, inertia, range, quadrants, response) of one results file.")
    p.add_argument("results", help="results file (.h5) of an analysis")
    p.add_argument("--segments", required=True, help="segments CSV (start_s,end_s,label)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--pac-threshold", type=float, default=None, help="acute-change cut-off (default 0.2)")
    p.set_defaults(func=run_dynamics)

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
    t.set_defaults(func=run_train)

    e = cs.add_parser("evaluate", help="score a trained model on an external cohort")
    e.add_argument("model", help="model folder or model.json")
    e.add_argument("manifest")
    e.add_argument("--json", action="store_true")
    e.set_defaults(func=run_evaluate)

    q = cs.add_parser("predict", help="probability of BD vs MDD for one subject (or a refusal, exit 3)")
    q.add_argument("paths", nargs="+", metavar="[MODEL] RESULT.h5",
                   help="optional model folder (default: the shipped reference model), then the results file")
    q.add_argument("--segments", required=True, help="segments CSV of the results file")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=run_predict)


def _fmt(x: float, digits: int = 3) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _open_inputs(results: str, segments: str) -> tuple[Any, list]:
    from facelens.core.results import ResultsError, SessionResults
    from facelens.core.segments import SegmentError, read_segments_csv

    try:
        segs = read_segments_csv(segments)
        return SessionResults.open(results), segs
    except (ResultsError, SegmentError) as exc:
        raise UsageError(str(exc)) from None


def run_dynamics(args: argparse.Namespace) -> int:
    from facelens.core.dynamics import PAC_THRESHOLD, session_dynamics

    res, segs = _open_inputs(args.results, args.segments)
    with res:
        dyn = session_dynamics(res, segs, pac_threshold=args.pac_threshold or PAC_THRESHOLD)
        n_frames, n_usable = res.n_frames, int(res.usable.sum())
    if args.json:
        print(json.dumps(dyn.to_dict(), indent=1))
        return 0
    print(f"{Path(args.results).name}: {n_frames} sampled frames, {n_usable} usable; {len(segs)} segments")
    print(f"{'label':<10}{'segs':>5}{'frames':>8}{'valid':>7}   {'valence mean ± SD':<20}{'arousal mean ± SD':<20}")
    for lab, st in dyn.by_label.items():
        print(f"{lab:<10}{st.n_segments:>5}{st.n_frames:>8}{st.n_valid:>7}   "
              f"{_fmt(st.valence.mean) + ' ± ' + _fmt(st.valence.sd):<20}"
              f"{_fmt(st.arousal.mean) + ' ± ' + _fmt(st.arousal.sd):<20}")
    print(f"valence contrast (happy − sad mean): {_fmt(dyn.valence_contrast)}")
    print("\nper segment (V = valence, A = arousal; latency in s):")
    head = ("segment", "valid", "V SD", "V MSSD", "V PAC", "V AC1", "V range", "A SD", "A MSSD", "A PAC",
            "A AC1", "V ampl", "V lat", "A ampl", "A lat")
    print(" ".join(f"{h:>8}" for h in head))
    for s in dyn.segments:
        vals = [s.valence.sd, s.valence.mssd, s.valence.pac, s.valence.inertia, s.valence.range,
                s.arousal.sd, s.arousal.mssd, s.arousal.pac, s.arousal.inertia,
                s.valence_response.amplitude, s.valence_response.latency_s,
                s.arousal_response.amplitude, s.arousal_response.latency_s]
        name = f"{s.label}@{s.start_s:g}"
        print(f"{name[:8]:>8} {s.valence.n_valid:>8} " + " ".join(f"{_fmt(v, 4 if i in (1, 6) else 3):>8}" for i, v in enumerate(vals)))
    q = dyn.session_quadrants
    print("\nsession: time in quadrants " + ", ".join(f"{k} {_fmt(100 * v, 1)} %" for k, v in q.items()))
    sv, sa = dyn.session_valence, dyn.session_arousal
    print(f"session valence: SD {_fmt(sv.sd)} MSSD {_fmt(sv.mssd, 4)} PAC {_fmt(sv.pac)} inertia {_fmt(sv.inertia)}")
    print(f"session arousal: SD {_fmt(sa.sd)} MSSD {_fmt(sa.mssd, 4)} PAC {_fmt(sa.pac)} inertia {_fmt(sa.inertia)}")
    print(f"(PAC threshold {dyn.params['pac_threshold']}; definitions: docs/dynamics.md)")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from facelens.core.simulate import simulate_cohort

    if args.n_bd < 1 or args.n_mdd < 1:
        raise UsageError("--n-bd and --n-mdd must be at least 1")
    if not 0.0 <= args.effect <= 5.0:
        raise UsageError("--effect must be between 0 and 5")
    manifest = simulate_cohort(args.out, args.n_bd, args.n_mdd, args.seed, args.effect)
    print(f"simulated cohort ({args.n_bd} BD, {args.n_mdd} MDD, seed {args.seed}, effect {args.effect}): {manifest}")
    print("SIMULATED data for testing and demonstration; not patient data.")
    return 0


def _load_cohort(manifest: str) -> Any:
    from facelens.core.cohort import CohortError, load_cohort

    try:
        return load_cohort(manifest)
    except CohortError as exc:
        raise UsageError(str(exc)) from None


def _load_model(path: str | None) -> Any:
    from facelens.core.diagnosis import ModelError, load_model

    try:
        return load_model(path)
    except ModelError as exc:
        raise UsageError(str(exc)) from None


def run_train(args: argparse.Namespace) -> int:
    from facelens.core.cohort import CohortError, format_metrics, train_model
    from facelens.core.diagnosis import save_model

    if args.folds < 2:
        raise UsageError("--folds must be at least 2")
    cohort = _load_cohort(args.manifest)
    out = Path(args.out)
    try:
        model, cv = train_model(cohort, args.classifier, args.folds, args.seed, model_id=args.model_id or out.name)
    except CohortError as exc:
        raise UsageError(str(exc)) from None
    train_cmd = f"facelens cohort train SIM/manifest.csv --out {out.name} --classifier {args.classifier} " \
                f"--folds {args.folds} --seed {args.seed}"
    sim = cohort.simulation
    if sim:
        model.card["reproduce"] = (f"facelens cohort simulate --out SIM --n-bd {sim['n_bd']} --n-mdd {sim['n_mdd']} "
                                   f"--seed {sim['seed']} --effect {sim['effect']} && " + train_cmd)
    else:
        model.card["reproduce"] = train_cmd.replace("SIM/manifest.csv", Path(args.manifest).name)
    try:
        save_model(model, out)
    except OSError as exc:
        raise CommandError(f"cannot write model to {out}: {exc}") from None
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
    from facelens.core.cohort import METRICS, evaluate_model
    from facelens.core.dynamics import jsonable

    model = _load_model(args.model)
    cohort = _load_cohort(args.manifest)
    res = evaluate_model(model, cohort)
    if args.json:
        print(json.dumps(jsonable({"model_id": model.card.get("model_id"), "metrics": res}), indent=1))
        return 0
    if model.card.get("simulated"):
        print("model trained on SIMULATED data; not validated on patients")
    print(f"external cohort: {int(cohort.y.sum())} BD, {int((cohort.y == 0).sum())} MDD "
          "(value ± SD over 1000 subject bootstrap resamples)")
    for m in METRICS:
        print(f"{m} {res[m]['value']:.3f} ± {res[m]['sd']:.3f}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from facelens.core.diagnosis import Refusal, predict_subject
    from facelens.core.dynamics import jsonable

    if len(args.paths) > 2:
        raise UsageError("give at most a model and one results file")
    model = _load_model(args.paths[0] if len(args.paths) == 2 else None)
    res, segs = _open_inputs(args.paths[-1], args.segments)
    with res:
        out = predict_subject(model, [(res, segs)])
    if isinstance(out, Refusal):
        if args.json:
            print(json.dumps(jsonable({"refused": True, **asdict(out)}), indent=1))
        else:
            print(f"REFUSED: {out.reason}")
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
    if out.out_of_range:
        print(f"WARNING: far outside the training cohort (> 4 SD), the model extrapolates: {', '.join(out.out_of_range)}")
    if out.imputed_features:
        print(f"imputed (training mean, flagged): {', '.join(out.imputed_features)}")
    print("features that moved it most (log-odds, + towards BD):")
    for d in out.drivers:
        print(f"  {d.feature:<22} value {_fmt(d.value)}  contribution {d.contribution:+.3f}")
    print("valid frames: " + ", ".join(f"{k} {v}" for k, v in out.n_valid_frames.items()))
    return 0
