"""Training the temporal regressor G (:mod:`facelens.core.affect.temporal`) on labelled stills.

Stills have no time axis, so the training sequences are made of them: each sequence holds one
still or several in a row (each for 1-10 frames, at 10 fps), with Gaussian noise added to every
frame's inputs (``noise`` in units of each input's SD: tracking jitter). Sequence lengths run from
1 frame, so that G learns to answer from a cold start, as it must for a still image (a session of
one frame). The loss is MSE + (1 - CCC) for valence and arousal and cross-entropy for the 7
expressions on every labelled frame.

Temporal part: unlabelled video sequences (coefficients of real recordings) add a smoothness
term, the mean squared frame-to-frame change of the predicted valence/arousal, weighted by
``smooth``: stills teach what an expression means, the videos how fast the answer may move.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from facelens.core.affect.temporal import TemporalConfig, TemporalRegressor, ccc_loss


@dataclass
class GTrainConfig:
    """Hyper-parameters of one training run (the model card records them)."""

    epochs: int = 60
    lr: float = 2e-3
    batch: int = 32
    noise: float = 0.3
    max_len: int = 40
    smooth: float = 1.0
    video_window: int = 50
    hidden: int = 64
    mlp: int = 64
    seed: int = 0
    members: int = 5  # > 1: an ensemble of this many networks (seeds seed, seed + 1, ...), outputs averaged


def still_sequences(x: np.ndarray, va: np.ndarray, y: np.ndarray, rng: np.random.Generator,
                    max_len: int, n_seq: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Sequences of held stills: (inputs (T, K), VA (T, 2), labels (T,)) with 1 <= T <= max_len."""
    out = []
    for _ in range(n_seq):
        length = int(rng.integers(1, max_len + 1))
        idx: list[int] = []
        while len(idx) < length:
            idx += [int(rng.integers(len(x)))] * int(rng.integers(1, 11))
        idx = idx[:length]
        out.append((x[idx], va[idx], y[idx]))
    return out


def _windows(videos: Sequence[np.ndarray], window: int) -> list[np.ndarray]:
    out = []
    for v in videos:
        ok = np.all(np.isfinite(v), axis=1)
        v = v[ok]  # a frame without a face ends nothing here: G sees usable frames in order
        out += [v[s:s + window] for s in range(0, max(len(v) - window + 1, 1), window // 2) if len(v[s:s + window]) > 1]
    return out


def train_g(x: np.ndarray, va: np.ndarray, y: np.ndarray, feature_names: Sequence[str],
            videos: Sequence[np.ndarray] = (), cfg: GTrainConfig | None = None,
            log: Callable[[str], None] = print) -> TemporalRegressor | list[TemporalRegressor]:
    """Train G on stills ``x`` (N, K) with targets ``va`` (N, 2) and labels ``y`` (N,) in 0..6
    (a list of networks when ``cfg.members > 1``)."""
    cfg = cfg or GTrainConfig()
    if cfg.members > 1:
        out = []
        for j in range(cfg.members):
            log(f"member {j + 1}/{cfg.members}")
            out.append(_train_one(x, va, y, feature_names, videos, replace(cfg, seed=cfg.seed + j, members=1), log))
        return out
    return _train_one(x, va, y, feature_names, videos, cfg, log)


def _train_one(x: np.ndarray, va: np.ndarray, y: np.ndarray, feature_names: Sequence[str],
               videos: Sequence[np.ndarray], cfg: GTrainConfig, log: Callable[[str], None]) -> TemporalRegressor:
    import torch

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    tcfg = TemporalConfig(n_features=x.shape[1], hidden=cfg.hidden, mlp=cfg.mlp, n_classes=7,
                          feature_names=list(feature_names))
    tcfg.mean = np.mean(x, axis=0).tolist()
    tcfg.std = np.maximum(np.std(x, axis=0), 1e-6).tolist()
    reg = TemporalRegressor(tcfg)
    norm = reg.normalise
    xs = norm(x)
    vids = [torch.from_numpy(norm(w)) for w in _windows(videos, cfg.video_window)]
    opt = torch.optim.Adam(reg.net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    ce = torch.nn.CrossEntropyLoss(ignore_index=-1)
    n_seq = max(cfg.batch, int(np.ceil(len(x) * 5.5 * 2 / (cfg.max_len + 1))))
    pad = torch.nn.utils.rnn.pad_sequence
    reg.net.train()
    for epoch in range(cfg.epochs):
        seqs = still_sequences(xs, va, y, rng, cfg.max_len, n_seq)
        total = 0.0
        for start in range(0, len(seqs), cfg.batch):
            part = seqs[start:start + cfg.batch]
            xb = pad([torch.from_numpy(s[0] + cfg.noise * rng.standard_normal(s[0].shape).astype(np.float32))
                      for s in part], batch_first=True)
            vb = pad([torch.from_numpy(s[1].astype(np.float32)) for s in part], batch_first=True,
                     padding_value=float("nan"))
            yb = pad([torch.from_numpy(s[2].astype(np.int64)) for s in part], batch_first=True, padding_value=-1)
            pv, logits = reg.net(xb)
            ok = torch.isfinite(vb).all(-1)
            loss = ((pv[ok] - vb[ok]) ** 2).mean() + 0.5 * (ccc_loss(pv[ok][:, 0], vb[ok][:, 0])
                                                         + ccc_loss(pv[ok][:, 1], vb[ok][:, 1]))
            loss = loss + 0.5 * ce(logits.reshape(-1, logits.shape[-1]), yb.reshape(-1))
            if vids and cfg.smooth > 0:
                pick = [vids[int(i)] for i in rng.integers(len(vids), size=min(8, len(vids)))]
                pvv, _ = reg.net(pad(pick, batch_first=True))
                lens = torch.tensor([len(p) for p in pick])
                step = torch.arange(pvv.shape[1] - 1)[None, :] < (lens[:, None] - 1)
                loss = loss + cfg.smooth * ((pvv[:, 1:] - pvv[:, :-1]) ** 2).sum(-1)[step].mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(part)
        if epoch % 20 == 0 or epoch == cfg.epochs - 1:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {total / len(seqs):.4f}")
    reg.net.eval()
    return reg


def predict_stills(reg: TemporalRegressor | Sequence[TemporalRegressor], x: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each still as a session of one frame: (VA (N, 2), probabilities (N, 7)); NaN rows stay NaN.
    An ensemble (a list) averages its members' outputs, as the run time does."""
    import torch

    if not isinstance(reg, TemporalRegressor):
        outs = [predict_stills(r, x) for r in reg]
        return np.mean([o[0] for o in outs], axis=0), np.mean([o[1] for o in outs], axis=0)
    ok = np.all(np.isfinite(x), axis=1)
    va = np.full((len(x), 2), np.nan)
    p = np.full((len(x), reg.cfg.n_classes), np.nan)
    if ok.any():
        reg.net.eval()
        with torch.inference_mode():
            v, logits = reg.net(torch.from_numpy(reg.normalise(x[ok]))[:, None, :])
        va[ok] = v[:, 0].numpy()
        p[ok] = torch.softmax(logits[:, 0], -1).numpy()
    return va, p
