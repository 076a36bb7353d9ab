"""``facelens train-va`` and ``facelens eval-affect``: the temporal VA regressor on AffectNet-like folders."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from facelens.cli import CommandError, UsageError
from facelens.cli._common import check_output_file, usage_from_os_error

HOLD_FRAMES = 10  # a still image is scored as a 1-s static clip; the last frame's output counts


def register(subparsers: argparse._SubParsersAction) -> None:
    tr = subparsers.add_parser("train-va", help="train the temporal valence/arousal regressor on an AffectNet-like folder")
    tr.add_argument("dataset", type=Path, help="folder with labels.csv or images/ + annotations/ (see docs/affect.md)")
    tr.add_argument("--out", type=Path, required=True, help="model file to write (.pt)")
    tr.add_argument("--epochs", type=int, default=40)
    tr.add_argument("--seq-len", type=int, default=50, help="training sequence length in frames (10 fps)")
    tr.add_argument("--seed", type=int, default=0)
    _g_options(tr)
    tr.set_defaults(func=_train)

    ev = subparsers.add_parser("eval-affect", help="V-CCC, A-CCC, V-RMSE, A-RMSE, E-ACC on an AffectNet-like folder")
    ev.add_argument("dataset", type=Path)
    ev.add_argument("--model", default="default",
                    help="'default' (FER2013 + circumplex), 'va-temporal' (user models folder) or a .pt file")
    ev.add_argument("--json", type=Path, help="also write the metrics to this JSON file")
    ev.add_argument("--cv", type=int, default=0, help="with --results: K-fold cross-validation of G (train-va's settings)")
    ev.add_argument("--epochs", type=int, default=30, help="with --cv: training epochs per fold")
    ev.add_argument("--seed", type=int, default=0)
    _g_options(ev)
    ev.set_defaults(func=_eval)


def _g_options(p: argparse.ArgumentParser) -> None:
    """G over the morphable model's coefficients, read from the pipeline's analyses (cli/affect_g.py)."""
    p.add_argument("--results", type=Path, default=None,
                   help="`facelens batch` output of the dataset's images (manifest: `facelens recon manifest`): "
                        "train/score G on what the pipeline stored; --model default then scores the stored values, "
                        "'g' the shipped G, a .npz another G")
    p.add_argument("--inputs", choices=("coef", "coef+appearance"), default="coef+appearance",
                   help="G's inputs with --results: expression coefficients, plus the stored appearance posterior")
    p.add_argument("--videos", type=Path, nargs="*", default=[],
                   help="with --results: unlabelled video results (files or batch folders) for G's smoothness term")


def _load_features(dataset: Path):
    from facelens.core.affect.datasets import DatasetError, image_features, read_dataset

    try:
        samples = read_dataset(dataset)
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    bad: list[int] = []
    feats, boxes = image_features(samples, log=lambda s: print(s, flush=True), unreadable=bad)
    if bad:  # not data: left out entirely instead of being counted as "no face"
        print(f"{len(bad)} image(s) could not be decoded and are left out (first: {samples[bad[0]].image.name})")
        keep = np.setdiff1d(np.arange(len(samples)), bad)
        samples = [samples[i] for i in keep]
        feats = feats[keep]
        boxes = [boxes[i] for i in keep]
    if not samples:
        raise UsageError(f"no image of {dataset} could be decoded")
    n_face = int(np.all(np.isfinite(feats), axis=1).sum())
    print(f"{len(samples)} images, a usable face in {n_face}")
    if n_face == 0:
        raise UsageError(f"no usable face in any image of {dataset}")
    return samples, feats, boxes


def _train(args: argparse.Namespace) -> int:
    if args.results is not None:
        from facelens.cli.affect_g import train

        return train(args)
    from facelens.core.affect.datasets import image_sequences
    from facelens.core.affect.temporal import TemporalConfig, TemporalRegressor
    from facelens.core.face.geometry import EXPRESSION_NAMES

    if args.epochs < 1 or args.seq_len < 2:
        raise UsageError("--epochs must be >= 1 and --seq-len >= 2")
    check_output_file(args.out, "--out")  # before the training, not after it
    samples, feats, _ = _load_features(args.dataset)
    seqs = image_sequences(feats, samples, length=args.seq_len, seed=args.seed)
    reg = TemporalRegressor(TemporalConfig(n_features=feats.shape[1], feature_names=list(EXPRESSION_NAMES)))
    losses = reg.fit(seqs, epochs=args.epochs, seed=args.seed, log=lambda s: print(s, flush=True))
    card = {"id": "va-temporal", "task": "frame-level valence/arousal + 8 expressions from expression coefficients",
            "training_data": f"{args.dataset.name}: {len(samples)} images ({int(np.isfinite(feats[:, 0]).sum())} with a face)",
            "sequences": f"{len(seqs)} x {args.seq_len} frames, still images held 1-10 frames in random order",
            "epochs": args.epochs, "final_loss": losses[-1], "seed": args.seed,
            "notes": "not validated on patients; AffectNet-style stills carry no real dynamics"}
    try:
        path = reg.save(args.out, card)
    except OSError as exc:
        raise usage_from_os_error(exc) from None
    print(f"saved {path} (loss {losses[0]:.4f} -> {losses[-1]:.4f})")
    return 0


def _predict_temporal(model: str, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from facelens.core.affect.temporal import TemporalRegressor
    from facelens.core.registry import ModelError, registry

    if model == "va-temporal":
        try:
            path = registry.path("va-temporal")
        except ModelError as exc:
            raise UsageError(str(exc)) from None
    else:
        path = Path(model)
    try:
        reg = TemporalRegressor.load(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    va = np.full((len(feats), 2), np.nan)
    probs = np.full((len(feats), 8), np.nan)
    for i, f in enumerate(feats):
        if np.all(np.isfinite(f)):
            v, p = reg.predict(np.repeat(f[None], HOLD_FRAMES, axis=0))
            va[i], probs[i] = v[-1], p[-1]
    return va, probs


def _predict_default(samples, boxes) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    from facelens.core.affect.fer import FER_LABELS, FerEmotionModel
    from facelens.core.affect.temporal import AFFECTNET_LABELS
    from facelens.core.affect.va import CircumplexVA
    from facelens.core.registry import ModelError

    try:
        fer = FerEmotionModel(device="auto")
    except ModelError as exc:
        raise CommandError(str(exc)) from None
    names = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy", "sad": "sad",
             "surprise": "surprise", "neutral": "neutral"}
    cols = [AFFECTNET_LABELS.index(names[n]) for n in FER_LABELS]
    va = np.full((len(samples), 2), np.nan)
    probs = np.full((len(samples), 8), np.nan)
    est = CircumplexVA()
    for i, (s, box) in enumerate(zip(samples, boxes)):
        if box is None:
            continue
        rgb = cv2.cvtColor(cv2.imread(str(s.image)), cv2.COLOR_BGR2RGB)
        p = fer.predict_faces([rgb], [box])
        probs[i] = 0.0
        probs[i, cols] = p[0]  # contempt: the FER2013 model has no such class
        est.reset()  # unrelated stills: no temporal context, no personal baseline
        v, a = est.estimate(p, np.zeros((1, 0)), [], np.zeros(1), np.ones(1, bool))
        va[i] = v[0], a[0]
    return va, probs


def _eval(args: argparse.Namespace) -> int:
    if args.results is not None:
        from facelens.cli.affect_g import evaluate

        return evaluate(args)
    from facelens.core.affect.datasets import affect_metrics
    from facelens.core.common.atomic import atomic_write_text
    from facelens.core.dynamics import jsonable

    if args.json is not None:
        check_output_file(args.json, "--json")  # before the evaluation, not after it
    samples, feats, boxes = _load_features(args.dataset)
    if args.model == "default":
        va, probs = _predict_default(samples, boxes)
    else:
        va, probs = _predict_temporal(args.model, feats)
    truth = np.array([[s.valence, s.arousal] for s in samples])
    labels = np.array([s.label for s in samples])
    m = affect_metrics(va, truth, probs, labels)
    print(f"model: {args.model}   images scored: {m['n_scored']}/{m['n']}")
    for key in ("V-CCC", "A-CCC", "V-RMSE", "A-RMSE", "E-ACC-8", "E-ACC-7"):
        print(f"{key:7s} {m[key]:.3f}" if np.isfinite(m[key]) else f"{key:7s} —  (undefined: {_why_undefined(key, m)})")
    print(f"for reference only, seed paper (AsmV2L 2026) on AffectNet's validation set: {_paper_affectnet()}; "
          f"comparable only on that same set, and a figure from {m['n_scored']} image(s) carries a wide "
          "uncertainty")
    if args.json:
        data = {"model": args.model, **m, "paper_reference": _paper_affectnet(),
                "note": "paper figures: AffectNet validation set; these: the dataset named here"}
        try:
            atomic_write_text(args.json, json.dumps(jsonable(data), indent=1))
        except OSError as exc:
            raise usage_from_os_error(exc) from None
    return 0


#: The seed paper's AffectNet figures (AsmV2L 2026), printed next to local results for orientation.
def _paper_affectnet() -> str:
    from facelens.core.common.published import affectnet_line

    return affectnet_line()



def _why_undefined(key: str, m: dict) -> str:
    if m["n_scored"] == 0:
        return "no image was scored"
    if key.endswith("CCC") and m["n_scored"] < 2:
        return "a CCC needs at least 2 scored images"
    if key.endswith("CCC"):
        return "the labels or predictions do not vary"
    return "no image with that kind of label"
