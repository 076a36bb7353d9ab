"""The seed paper's AsmV2L ablation at small scale: baseline / + image reconstruction / + text
reconstruction / + area weighting, each trained with the same seed, data, split and epochs.

Rows (cumulative, as in the paper):

* ``baseline``: landmark + coefficient-distillation losses only;
* ``+image rec``: + the joint image reconstruction L_CJ (render + dense-map RGB);
* ``+text rec``: + text-guided modulation and the text-to-image loss L_WT;
* ``+area weighting``: + adaptive region weights in the landmark, L_CJ and L_WT losses.

Metrics on the held-out sessions (persons) of the split, with the mean-shape baselines of the same run
(``facelens.core.training.asmv2l.evaluate``). The VGG-feature loss of the paper is replaced by the
photometric error (no VGG weights are reachable here). E-ACC / V-CCC / A-CCC go through a temporal
regressor G when ``--g`` names one.

Usage (CPU, small)::

    python benchmarks/asmv2l_ablation.py --prepared PREPARED.npz --out OUT --epochs 4

``PREPARED.npz`` comes from ``facelens recon train ... --prepare-only`` (or any prepared file); at full
scale on a GPU see docs/asmv2l.md.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

ROWS = (("baseline", {"image_rec": False, "text_rec": False, "area_weighting": False}),
        ("+image rec", {"image_rec": True, "text_rec": False, "area_weighting": False}),
        ("+text rec", {"image_rec": True, "text_rec": True, "area_weighting": False}),
        ("+area weighting", {"image_rec": True, "text_rec": True, "area_weighting": True}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prepared", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--config", choices=("small", "table1"), default="small")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--g", type=Path, help="a temporal regressor G (.pt) for E-ACC / V-CCC / A-CCC")
    ap.add_argument("--rows", default="0,1,2,3", help="which rows to run (indices)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from facelens.core.face.asmv2l.network import AsmConfig
    from facelens.core.face.morphable import load_default
    from facelens.core.face.topology import triangles
    from facelens.core.training.asmv2l.data import FrameSet, with_targets
    from facelens.core.training.asmv2l.evaluate import evaluate
    from facelens.core.training.asmv2l.train import Trainer, TrainOptions

    morph = load_default()
    frames = with_targets(FrameSet.load(args.prepared), morph)
    g, names = None, ()
    if args.g:
        from facelens.core.affect.temporal import AFFECTNET_LABELS, TemporalRegressor

        g, names = TemporalRegressor.load(args.g), AFFECTNET_LABELS
    make = AsmConfig.small if args.config == "small" else AsmConfig.table1
    results = []
    for k in (int(x) for x in args.rows.split(",")):
        name, flags = ROWS[k]
        out = args.out / f"row{k}"
        t0 = time.perf_counter()
        tr = Trainer(frames, morph, np.asarray(triangles()), make(morph.n_identity, morph.n_expression),
                     TrainOptions(epochs=args.epochs, batch_size=args.batch_size, **flags), out, device=args.device)
        tr.run()
        train_lm = frames.landmarks[tr.train_idx].mean(0)
        val = frames.subset(tr.val_idx)
        m = evaluate(tr.net, tr.images[tr.val_idx], val, train_lm, g=g, class_names=names, device=args.device)
        m.update(row=name, train_seconds=time.perf_counter() - t0, train_frames=len(tr.train_idx),
                 epochs=args.epochs, config=args.config)
        results.append(m)
        print(json.dumps(m), flush=True)
        (args.out / "ablation.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    cols = ("row", "nme", "nme_p95", "nme_mean_shape", "nme_model_mean", "coef_rmse_exp", "coef_rmse_exp_zero",
            "pose_mae_deg", "photometric", "e_acc", "v_ccc", "a_ccc", "e_acc_fit", "train_seconds")
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in results:
        lines.append("| " + " | ".join(f"{r[c]:.4f}" if isinstance(r.get(c), float) else str(r.get(c, "")) for c in cols) + " |")
    (args.out / "ablation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
