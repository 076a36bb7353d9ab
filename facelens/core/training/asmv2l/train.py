"""Training loop of AsmV2L: batches, losses, checkpoints every ``checkpoint_every`` steps and at each
epoch's end, exact resume, a per-epoch log (CSV + JSON) and a plot.

Every random draw of a step (batch order, colour jitter, text dropout) comes from a generator seeded
by ``(seed, epoch, step)``, the optimiser state and the adaptive region weights are in the checkpoint,
and the network has no dropout, so a run resumed from a checkpoint continues bit for bit as the
uninterrupted run would (``tests/test_asmv2l.py`` checks it).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from facelens.core.face.asmv2l import checkpoint as ckpt
from facelens.core.face.asmv2l.crops import resize_crops
from facelens.core.face.asmv2l.network import AsmConfig, AsmV2L
from facelens.core.face.asmv2l.regions import REGIONS, region_sensitivity
from facelens.core.face.asmv2l.text import default_encoder, describe, robust_stats
from facelens.core.training.asmv2l.data import FrameSet, split_sessions
from facelens.core.training.asmv2l.losses import (
    RegionWeights,
    coefficient_loss,
    joint_image_loss,
    landmark_loss,
    text_image_loss,
)

LOSS_NAMES = ("total", "landmark", "coefficient", "joint_image", "text_image", "photometric")


@dataclass
class TrainOptions:
    """What a training run does (saved in its checkpoints)."""

    epochs: int = 10
    batch_size: int = 16
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    val_frac: float = 0.2
    image_rec: bool = True  # L_CJ
    text_rec: bool = True  # text modulation + L_WT
    area_weighting: bool = True
    text_dropout: float = 0.5
    w_landmark: float = 1.0
    w_coefficient: float = 0.05
    w_joint: float = 0.5
    w_text: float = 0.05
    checkpoint_every: int = 100


def _step_generator(seed: int, epoch: int, step: int) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 1_000_003 + epoch) * 1_000_003 + step) % (2**63))


class Trainer:
    """One training run into ``out`` (see the module notes).

    Parameters
    ----------
    frames
        Prepared frames with coefficient targets (:func:`.data.with_targets`).
    morph
        The morphable model the targets were fitted with.
    faces
        (T,3) mesh triangles.
    cfg, opts
        Network sizes and run options; when resuming, the checkpoint's are used except ``epochs``.
    encoder
        Sentence encoder with ``encode(list[str]) -> (n, 384)``; default all-MiniLM-L6-v2.
    """

    def __init__(self, frames: FrameSet, morph: object, faces: np.ndarray, cfg: AsmConfig, opts: TrainOptions,
                 out: Path, device: str = "cpu", log: Callable[[str], None] = print,
                 encoder: object | None = None) -> None:
        self.out, self.device, self.log = Path(out), torch.device(device), log
        self.path = self.out / "checkpoint.pt"
        state = ckpt.load(self.path) if self.path.is_file() else None
        if state is not None:
            saved = TrainOptions(**state["options"])
            saved.epochs = opts.epochs  # the one option a resumed run may change: train longer
            cfg, opts = AsmConfig.from_dict(state["config"]), saved
        cfg.use_text = opts.text_rec
        self.cfg, self.opts = cfg, opts
        torch.manual_seed(opts.seed)
        self.net = AsmV2L(cfg, morph, faces).to(self.device)
        self.frames = frames
        if state is None:
            train_idx, val_idx = split_sessions(frames.session, opts.val_frac, opts.seed)
            val_sessions = sorted(set(frames.session[val_idx]))
        else:
            val_sessions = state["val_sessions"]
            held = np.isin(frames.session, val_sessions)
            train_idx, val_idx = np.flatnonzero(~held), np.flatnonzero(held)
        self.train_idx, self.val_idx, self.val_sessions = train_idx, val_idx, val_sessions
        self.median, self.sd = robust_stats(frames.measures[train_idx])
        phrases = [describe(m, self.median, self.sd, lab or None) for m, lab in zip(frames.measures, frames.label)]
        vocab = sorted({p for row in phrases for p in row})
        self.vocab = vocab
        self.phrase_ids = torch.tensor([[vocab.index(p) for p in row] for row in phrases])
        enc = encoder or default_encoder()
        self.text_emb = (torch.from_numpy(enc.encode(vocab)) if opts.text_rec  # type: ignore[attr-defined]
                         else torch.zeros(len(vocab), cfg.text_dim))
        with torch.no_grad():
            self.net.pose_mean.copy_(torch.from_numpy(frames.pose[train_idx].mean(0)))
        sens = region_sensitivity(morph.expression_basis, morph.expression_sd, self.net.vertex_region.cpu().numpy())  # type: ignore[attr-defined]
        self.rw = RegionWeights(torch.from_numpy(sens), self.net.vertex_region.cpu(), opts.area_weighting)
        self.images = resize_crops(frames.crops, cfg.input_size)
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
        self.epoch, self.step, self.history = 0, 0, []
        if state is not None:
            self.net.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            self.rw.load_state_dict(state["region_weights"])
            self.epoch, self.step, self.history = state["epoch"], state["step"], state["history"]
            self.log(f"resuming {self.path} at epoch {self.epoch + 1}, step {self.step}")

    def _batch(self, idx: np.ndarray, gen: torch.Generator | None) -> dict[str, torch.Tensor]:
        f, dev = self.frames, self.device
        img = self.images[idx].float() / 255.0
        if gen is not None:  # brightness / contrast jitter: geometry unchanged
            gain = 1 + 0.2 * (torch.rand(len(idx), 1, 1, 1, generator=gen) - 0.5)
            offset = 0.1 * (torch.rand(len(idx), 1, 1, 1, generator=gen) - 0.5)
            img = (img * gain + offset).clamp(0, 1)
        pid = self.phrase_ids[idx]
        b = {"images": img, "landmarks": torch.from_numpy(f.landmarks[idx]), "pose": torch.from_numpy(f.pose[idx]),
             "id": torch.from_numpy(f.id_coef[idx]), "exp": torch.from_numpy(f.exp_coef[idx]),
             "phrase_ids": pid, "text": self.text_emb[pid]}
        if gen is not None:
            b["text_on"] = torch.rand(len(idx), len(REGIONS), generator=gen) >= self.opts.text_dropout
        return {k: v.to(dev) for k, v in b.items()}

    def losses(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """All loss terms of one batch (the total is weighted by the run's options)."""
        o, net = self.opts, self.net
        out = net(b["images"], b["text"] if o.text_rec else None, b.get("text_on"))
        posed = net.project(net.shape(out["id"], out["exp"]), out["pose"])
        vw = self.rw.vertex().to(self.device)
        vw = vw * (torch.arange(len(vw), device=self.device) < 468)  # irises follow gaze: no landmark weight
        lmk, per_vertex = landmark_loss(posed, b["landmarks"], vw)
        self.rw.update(per_vertex) if net.training else None
        terms = {"landmark": lmk, "coefficient": coefficient_loss(out, b)}
        zero = lmk.new_zeros(())
        terms["joint_image"], terms["photometric"], terms["text_image"] = zero, zero, zero
        if o.image_rec or o.text_rec:
            cj, plain, raster = joint_image_loss(net, out, posed, b["images"], self.rw.vertex().to(self.device))
            terms["photometric"] = plain
            if o.image_rec:
                terms["joint_image"] = cj
            if o.text_rec:
                terms["text_image"] = text_image_loss(net, out, raster, b["text"], b["phrase_ids"],
                                                      self.rw.region().to(self.device))
        terms["total"] = (o.w_landmark * terms["landmark"] + o.w_coefficient * terms["coefficient"]
                          + o.w_joint * terms["joint_image"] + o.w_text * terms["text_image"])
        return terms

    def _state(self) -> dict:
        return {"config": self.cfg.as_dict(), "options": asdict(self.opts), "model": self.net.state_dict(),
                "optimizer": self.opt.state_dict(), "region_weights": self.rw.state_dict(), "epoch": self.epoch,
                "step": self.step, "history": self.history, "val_sessions": list(self.val_sessions),
                "text": {"vocab": self.vocab, "embeddings": self.text_emb.numpy()},
                "measure_stats": {"median": self.median, "sd": self.sd},
                "train_mean_landmarks": self.frames.landmarks[self.train_idx].mean(0)}

    def run(self, progress: bool = True, stop_after_steps: int | None = None) -> list[dict]:
        """Train to ``opts.epochs`` (from where the checkpoint left off); returns the history.

        ``stop_after_steps`` interrupts after that many steps of this call (tests of resume).
        """
        from tqdm import tqdm

        bs = self.opts.batch_size
        n_steps = max(1, len(self.train_idx) // bs)
        done_here = 0
        while self.epoch < self.opts.epochs:
            perm = torch.randperm(len(self.train_idx), generator=_step_generator(self.opts.seed, self.epoch, -1)).numpy()
            sums = dict.fromkeys(LOSS_NAMES, 0.0)
            self.net.train()
            t0 = time.perf_counter()
            bar = tqdm(total=n_steps, initial=self.step, desc=f"epoch {self.epoch + 1}/{self.opts.epochs}",
                       disable=not progress, leave=False)
            acc = self.history_partial() if self.step else sums
            while self.step < n_steps:
                idx = self.train_idx[perm[self.step * bs:(self.step + 1) * bs]]
                terms = self.losses(self._batch(idx, _step_generator(self.opts.seed, self.epoch, self.step)))
                self.opt.zero_grad(set_to_none=True)
                terms["total"].backward()
                self.opt.step()
                for k in LOSS_NAMES:
                    acc[k] += float(terms[k].detach())
                self.step += 1
                done_here += 1
                bar.update(1)
                bar.set_postfix(loss=f"{float(terms['total'].detach()):.4f}")
                if self.step % self.opts.checkpoint_every == 0 and self.step < n_steps:
                    ckpt.save(self.path, {**self._state(), "partial": acc})
                if stop_after_steps is not None and done_here >= stop_after_steps:
                    ckpt.save(self.path, {**self._state(), "partial": acc})
                    bar.close()
                    return self.history
            bar.close()
            row = {"epoch": self.epoch + 1, **{k: acc[k] / n_steps for k in LOSS_NAMES},
                   "seconds": time.perf_counter() - t0, **self.validate()}
            self.history.append(row)
            self.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()))
            self.epoch, self.step = self.epoch + 1, 0
            ckpt.save(self.path, self._state())
            write_log(self.out, self.history, plot=self.epoch == self.opts.epochs)
        return self.history

    def history_partial(self) -> dict[str, float]:
        """Loss sums of the interrupted epoch (restored from the checkpoint)."""
        state = ckpt.load(self.path) if self.path.is_file() else {}
        return dict(state.get("partial") or dict.fromkeys(LOSS_NAMES, 0.0))

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Held-out landmark NME (468 mesh points, inter-ocular units) and photometric error."""
        from facelens.core.training.asmv2l.evaluate import nme, predict_landmarks

        if not len(self.val_idx):
            return {}
        pred = predict_landmarks(self.net, self.images[self.val_idx], device=self.device)
        return {"val_nme": float(nme(pred, self.frames.landmarks[self.val_idx]).mean())}


def write_log(out: Path, history: list[dict], plot: bool = True) -> None:
    """``training_log.json``, ``training_log.csv`` and (``plot``) ``training_log.png``, losses per epoch."""
    (out / "training_log.json").write_text(json.dumps(history, indent=1), encoding="utf-8")
    keys = list(history[0])
    lines = [",".join(keys)] + [",".join(f"{r.get(k, '')}" for k in keys) for r in history]
    (out / "training_log.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if not plot:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ep = [r["epoch"] for r in history]
    for k in ("total", "landmark", "coefficient", "joint_image", "text_image", "val_nme"):
        ys = [r.get(k, np.nan) for r in history]
        if np.any(np.asarray(ys, float) > 0):
            ax.plot(ep, ys, marker="o", label=k)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "training_log.png", dpi=100)
    plt.close(fig)
