"""``train-va`` / ``eval-affect`` with ``--results``: G over the morphable model's coefficients.

The dataset's images are analysed once by the pipeline (``facelens recon manifest`` +
``facelens batch``); these commands read the results files, so what is trained and scored is
exactly what the pipeline produced for each image (a still is a session of one frame).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facelens.cli import CommandError, UsageError
from facelens.cli._common import check_output_file, usage_from_os_error

METRIC_KEYS = ("V-CCC", "A-CCC", "V-RMSE", "A-RMSE", "E-ACC-7")


def _table(args: argparse.Namespace):
    from facelens.core.affect.datasets import DatasetError, read_dataset
    from facelens.core.face.morphable import MorphableError, load_default
    from facelens.core.results import ResultsError
    from facelens.core.training.g_data import still_table

    try:
        samples = read_dataset(args.dataset)
        morph = load_default()
        table = still_table(samples, args.dataset, args.results, morph, log=lambda s: print(s, flush=True))
    except (DatasetError, MorphableError, ResultsError) as exc:
        raise UsageError(str(exc)) from None
    n_ok = int(table.ok.sum())
    print(f"{len(samples)} images, a usable face in {n_ok}")
    if n_ok == 0:
        raise CommandError(f"no usable face in the analyses in {args.results}", code=3)
    return table


def _videos(args: argparse.Namespace, kind: str) -> list[np.ndarray]:
    """Unlabelled sequences (coefficients [+ stored appearance]) of the --videos results, for smoothness."""
    from facelens.core.face.morphable import fit_session, load_default
    from facelens.core.results import ResultsError, SessionResults
    from facelens.core.training.g_data import FER_ORDER, appearance_column, require_current_appearance
    from facelens.core.training.morphable_data import session_posefree, video_files

    out = []
    try:
        for f in video_files(list(args.videos or [])).values():
            p, ok = session_posefree(f)
            x = fit_session(p, ok, model=load_default()).expression
            if kind != "coef":
                with SessionResults.open(f) as r:
                    require_current_appearance(r, f)
                    app, labels = appearance_column(r)
                x = np.concatenate([x, np.asarray(app, float)[:, [labels.index(c) for c in FER_ORDER]]], axis=1)
            out.append(x)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None
    return out


def _cfg(args: argparse.Namespace):
    from facelens.core.training.g_train import GTrainConfig

    return GTrainConfig(epochs=args.epochs, seed=args.seed)


def train(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from facelens.core.affect.g_runtime import G_LABELS, export_g
    from facelens.core.training.g_train import train_g

    check_output_file(args.out, "--out")
    if args.out.suffix != ".npz":
        raise UsageError("--out must end in .npz with --results (G's weights for the pipeline)")
    table = _table(args)
    ok = table.ok & (table.label >= 0)
    x = table.inputs(args.inputs)
    videos = _videos(args, args.inputs)
    cfg = _cfg(args)
    reg = train_g(x[ok], table.va[ok], table.label[ok], [f"x{i}" for i in range(x.shape[1])], videos=videos,
                  cfg=cfg, log=lambda s: print(s, flush=True))
    card = {"id": "va-g", "inputs": args.inputs, "labels": list(G_LABELS), "training": asdict(cfg),
            "training_data": f"{args.dataset.name}: {int(ok.sum())} labelled stills with a usable face",
            "temporal_data": f"{len(videos)} unlabelled video sessions (smoothness term)",
            "morphable_model_expression_components": int(table.coef.shape[1])}
    try:
        path = export_g(reg, card).save(args.out)
    except OSError as exc:
        raise usage_from_os_error(exc) from None
    print(f"saved {path}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    from facelens.core.affect.datasets import affect_metrics
    from facelens.core.affect.g_runtime import GModel, GModelError, GRunner
    from facelens.core.common.atomic import atomic_write_text
    from facelens.core.training.g_data import cross_validate, mirror_average

    if args.json is not None:
        check_output_file(args.json, "--json")
    table = _table(args)
    scored = table.ok & (table.label >= 0)
    if args.cv:
        if args.cv < 2:
            raise UsageError("--cv needs at least 2 folds")
        va, probs = cross_validate(table, args.inputs, args.cv, _cfg(args), _videos(args, args.inputs),
                                   log=lambda s: print(s, flush=True))
        what = f"G ({args.inputs}), {args.cv}-fold cross-validation"
    elif args.model == "default":  # what the pipeline stored, whichever estimator made it
        va, probs = table.stored_va, table.stored_probs
        what = "as stored by the pipeline"
    else:
        from facelens.core.affect.g_runtime import default_g_path

        try:
            g = GModel.load(default_g_path() if args.model == "g" else Path(args.model))
        except (GModelError, FileNotFoundError) as exc:
            raise UsageError(str(exc)) from None
        kind = g.card.get("inputs", "coef+appearance")
        x, xm = table.inputs(kind), table.inputs(kind, mirrored=True)
        va, probs = np.full((len(x), 2), np.nan), np.full((len(x), 7), np.nan)
        for i in np.flatnonzero(table.ok):  # a one-frame session each, with its mirror image (g_session's rule)
            one = [GRunner(g).step(rows[i:i + 1], np.ones(1, bool)) for rows in (x, xm)]
            va[i], probs[i] = (a[0] for a in mirror_average(*one))
        what = f"G from {args.model}"
    va = np.where(scored[:, None], va, np.nan)
    m = affect_metrics(va, table.va, probs, table.label)
    print(f"model: {what}   images scored: {m['n_scored']}/{m['n']}")
    for key in METRIC_KEYS:
        print(f"{key:7s} {m[key]:.3f}")
    if args.json:
        from facelens.core.dynamics import jsonable

        atomic_write_text(args.json, json.dumps(jsonable({"model": what, **m}), indent=1))
    return 0
