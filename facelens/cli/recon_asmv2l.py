"""``facelens recon train`` and ``facelens recon eval``: the AsmV2L network (docs/asmv2l.md)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from facelens.cli import CommandError, UsageError
from facelens.cli._common import check_output_dir, check_output_file


def register_recon(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser("train", help="train AsmV2L on folders of face images and/or videos (resumes in --out)")
    tr.add_argument("datasets", type=Path, nargs="+", metavar="DATASET",
                    help="folder of images and/or videos, optional labels.csv (image, expression, valence, arousal)")
    tr.add_argument("--out", type=Path, required=True, help="run folder: checkpoint.pt, training_log.*, asmv2l.pt")
    tr.add_argument("--epochs", type=int, default=10)
    tr.add_argument("--batch-size", type=int, default=16)
    tr.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    tr.add_argument("--config", choices=("small", "table1"), default="small",
                    help="network sizes: the paper's Table 1 (GPU) or the CPU configuration")
    tr.add_argument("--lr", type=float, default=2e-3)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--val-frac", type=float, default=0.2, help="fraction of sessions (persons) held out")
    tr.add_argument("--fps", type=float, default=2.0, help="frames sampled per second of video")
    tr.add_argument("--max-per-video", type=int, default=30)
    tr.add_argument("--prepared", type=Path, help="prepared frames (.npz): reused when present, else written")
    tr.add_argument("--prepare-only", action="store_true", help="track and crop the data, then stop")
    tr.add_argument("--no-image-rec", action="store_true", help="without the joint image reconstruction L_CJ")
    tr.add_argument("--no-text-rec", action="store_true", help="without text modulation and L_WT")
    tr.add_argument("--no-area-weighting", action="store_true", help="without adaptive region weights")
    tr.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    tr.add_argument("--fresh", action="store_true", help="start over even if --out holds a checkpoint")
    tr.set_defaults(func=_train)

    ev = sub.add_parser("eval", help="landmark NME, coefficient and photometric error, E-ACC/V-CCC/A-CCC through G")
    ev.add_argument("checkpoint", type=Path)
    ev.add_argument("datasets", type=Path, nargs="+", metavar="DATASET")
    ev.add_argument("--split", choices=("all", "val", "train"), default="all",
                    help="val/train: the checkpoint's held-out / training sessions only")
    ev.add_argument("--g", help="temporal regressor G for E-ACC/V-CCC/A-CCC: 'default' (the shipped one) or a G .npz")
    ev.add_argument("--prepared", type=Path)
    ev.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda[:N]")
    ev.add_argument("--fps", type=float, default=2.0)
    ev.add_argument("--max-per-video", type=int, default=30)
    ev.add_argument("--json", type=Path, help="also write the metrics here")
    ev.set_defaults(func=_eval)

    ls = sub.add_parser("checkpoints", help="AsmV2L weights found (shipped and user models folder) with their cards")
    ls.add_argument("--json", action="store_true", help="print the list as JSON")
    ls.set_defaults(func=_list)


def _list(args: argparse.Namespace) -> int:
    from facelens.core.face.asmv2l.inference import checkpoint_folders, list_checkpoints

    rows = list_checkpoints()
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    if not rows:
        print("no AsmV2L weights in " + ", ".join(str(f) for f in checkpoint_folders()))
    for r in rows:
        if "error" in r:
            print(f"{r['path']}: {r['error']}")
            continue
        m = r["metrics_held_out"]
        nme = f"held-out NME {m['nme']:.4f} (mean shape {m.get('nme_mean_shape', float('nan')):.4f})" if "nme" in m else ""
        print(f"{r['id']}: {r['path']} sha256 {r['sha256'][:12]}... epochs {r['epochs']} {nme}; "
              f"data {', '.join(map(str, r['training_data']))}")
    return 0


def _device(spec: str) -> str:
    from facelens.core.common.devices import DeviceError, resolve_device

    try:
        return resolve_device(spec)
    except DeviceError as exc:
        raise UsageError(f"--device: {exc}") from None


def _frames(datasets: list[Path], prepared: Path | None, fps: float, max_per_video: int):
    from facelens.core.training.asmv2l.data import DatasetError, FrameSet, prepare

    try:
        if prepared is not None and prepared.is_file():
            print(f"using prepared frames {prepared}")
            return FrameSet.load(prepared)
        for d in datasets:
            if not d.is_dir():
                raise UsageError(f"dataset folder not found: {d}")
        frames = prepare(datasets, fps=fps, max_per_video=max_per_video, log=lambda s: print(s, flush=True))
    except DatasetError as exc:
        raise UsageError(str(exc)) from None
    if prepared is not None:
        frames.save(prepared)
        print(f"prepared {len(frames)} frames into {prepared}")
    return frames


def _morph():
    from facelens.core.face.morphable import load_default
    from facelens.core.face.morphable.model import MorphableError

    try:
        return load_default()
    except MorphableError as exc:
        raise CommandError(str(exc), code=2) from None


def _train(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from facelens.core.face.asmv2l.network import AsmConfig
    from facelens.core.face.topology import triangles
    from facelens.core.training.asmv2l.data import with_targets
    from facelens.core.training.asmv2l.export import export_run
    from facelens.core.training.asmv2l.train import Trainer, TrainOptions

    check_output_dir(args.out)
    if args.epochs < 1 or args.batch_size < 1 or not 0 <= args.val_frac < 1:
        raise UsageError("--epochs and --batch-size must be >= 1 and --val-frac in [0, 1)")
    device = _device(args.device)
    torch.set_num_threads(max(1, args.threads))
    args.out.mkdir(parents=True, exist_ok=True)
    frames = _frames(args.datasets, args.prepared or args.out / "prepared.npz", args.fps, args.max_per_video)
    if args.prepare_only:
        return 0
    if len(np.unique(frames.session)) < 2 and args.val_frac > 0:
        raise UsageError("at least two sessions (images or videos) are needed to hold some out; or --val-frac 0")
    if args.fresh:
        (args.out / "checkpoint.pt").unlink(missing_ok=True)
    morph = _morph()
    frames = with_targets(frames, morph)
    make = AsmConfig.small if args.config == "small" else AsmConfig.table1
    opts = TrainOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                        val_frac=args.val_frac, image_rec=not args.no_image_rec, text_rec=not args.no_text_rec,
                        area_weighting=not args.no_area_weighting)
    from facelens.core.face.asmv2l.checkpoint import CheckpointError

    try:
        trainer = Trainer(frames, morph, np.asarray(triangles()), make(morph.n_identity, morph.n_expression), opts,
                          args.out, device=device, log=lambda s: print(s, flush=True))
    except CheckpointError as exc:
        raise UsageError(f"{exc} (use --fresh to start over)") from None
    trainer.run()
    path = export_run(trainer, [d.resolve().name for d in args.datasets], morph)  # names: no machine paths in cards
    print(f"trained {trainer.epoch} epochs; weights {path}, card {path.with_name('MODEL_CARD.md')}, "
          f"log {args.out / 'training_log.csv'}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    import numpy as np

    from facelens.core.face.asmv2l import checkpoint as ckpt
    from facelens.core.face.asmv2l.crops import resize_crops
    from facelens.core.training.asmv2l.data import with_targets
    from facelens.core.training.asmv2l.evaluate import evaluate

    if args.json:
        check_output_file(args.json, "--json")
    device = _device(args.device)
    try:
        state = ckpt.load(args.checkpoint)
    except ckpt.CheckpointError as exc:
        raise UsageError(str(exc)) from None
    net = ckpt.model_from_state(state).to(device)
    morph = _morph()
    if net.exp_sd.shape[0] != morph.n_expression or net.id_sd.shape[0] != morph.n_identity:
        raise UsageError(f"{args.checkpoint.name} was trained with another morphable model than the shipped one")
    frames = with_targets(_frames(args.datasets, args.prepared, args.fps, args.max_per_video), morph)
    if args.split != "all":
        if "val_sessions" not in state:
            raise UsageError("--split needs a training checkpoint (the exported weights carry no split)")
        held = np.isin(frames.session, state["val_sessions"])
        frames = frames.subset(np.flatnonzero(held if args.split == "val" else ~held))
    if not len(frames):
        raise CommandError("no usable face in the selected frames", code=3)
    g, names = (None, ()) if not args.g else _load_g(args.g, frames, morph.n_expression)
    res = evaluate(net, resize_crops(frames.crops, net.cfg.input_size), frames, state.get("train_mean_landmarks"),
                   g=g, class_names=names, device=device)
    for k, v in res.items():
        print(f"{k:>20}: {v:.4f}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=1), encoding="utf-8")
    return 0


class _GOnFrames:
    """G run over one session's frames: the network's (or the fit's) coefficients, plus the FER2013
    posterior of each frame's crop when G's card says its inputs are ``coef+appearance``."""

    def __init__(self, model, appearance) -> None:
        from facelens.core.affect.g_runtime import GRunner

        self.runner = GRunner(model)
        self.appearance = appearance

    def predict(self, coef, rows):
        import numpy as np

        x = coef if self.appearance is None else np.concatenate([coef, self.appearance[rows]], axis=1)
        self.runner.reset()
        return self.runner.step(x, np.ones(len(x), bool))


def _load_g(spec: str, frames, n_exp: int):
    import numpy as np

    from facelens.core.affect.g_runtime import G_LABELS, GModel, GModelError, load_default_g

    try:
        model = load_default_g() if spec == "default" else GModel.load(Path(spec))
    except (GModelError, OSError) as exc:
        raise UsageError(f"--g {spec}: {exc}") from None
    extra = model.n_inputs - n_exp
    if extra not in (0, 7):
        raise UsageError(f"--g {spec} takes {model.n_inputs} inputs, not {n_exp} coefficients (+ 7 appearance)")
    appearance = None
    if extra:
        from facelens.core.affect.fer import FerEmotionModel

        fer = FerEmotionModel(device="cpu")
        side = frames.crops.shape[1]
        lm = frames.landmarks[:, :468, :2] * side
        boxes = [np.r_[b.min(0), b.max(0)] for b in lm]
        appearance = np.asarray(fer.predict_faces(list(frames.crops), boxes), np.float64)
    return _GOnFrames(model, appearance), G_LABELS
