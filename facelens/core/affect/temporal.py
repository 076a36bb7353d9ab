"""The seed paper's temporal regressor G(.): LSTM encoder + four-layer MLP over per-frame expression
coefficients, giving frame-level valence and arousal (15-s clips at 10 fps in the paper).

We add an 8-way expression head (AffectNet classes) on the same MLP trunk so that E-ACC can be
reported as the paper does. Training data, sequences and metrics: see ``docs/affect.md``.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelens.core.common.agreement import ccc  # noqa: F401 - the one CCC (re-exported here)

if TYPE_CHECKING:  # imported lazily at run time
    import torch

AFFECTNET_LABELS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger", "contempt")
CLIP_FRAMES = 150  # 15 s at 10 fps (the paper's clip protocol)


@dataclass
class TemporalConfig:
    """Architecture and feature normalisation of a trained regressor."""

    n_features: int
    hidden: int = 64
    mlp: int = 64
    n_classes: int = len(AFFECTNET_LABELS)
    feature_names: list[str] = field(default_factory=list)
    mean: list[float] = field(default_factory=list)  # per-feature normalisation from the training set
    std: list[float] = field(default_factory=list)


def build_network(cfg: TemporalConfig) -> torch.nn.Module:
    """LSTM (1 layer, ``hidden``) -> MLP (4 linear layers) -> 2 + ``n_classes`` outputs per frame."""
    import torch
    from torch import nn

    class TemporalVA(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.LSTM(cfg.n_features, cfg.hidden, batch_first=True)
            self.mlp = nn.Sequential(
                nn.Linear(cfg.hidden + cfg.n_features, cfg.mlp), nn.ReLU(),
                nn.Linear(cfg.mlp, cfg.mlp), nn.ReLU(),
                nn.Linear(cfg.mlp, cfg.mlp), nn.ReLU(),
                nn.Linear(cfg.mlp, 2 + cfg.n_classes),
            )

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h, _ = self.encoder(x)
            # the frame's own coefficients next to the temporal context (a skip into the MLP)
            y = self.mlp(torch.cat([h, x], dim=-1))
            return torch.tanh(y[..., :2]), y[..., 2:]

    return TemporalVA()


def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 - CCC of two 1-d tensors (differentiable; the training loss of valence and arousal)."""
    pm, tm = pred.mean(), target.mean()
    cov = ((pred - pm) * (target - tm)).mean()
    return 1 - 2 * cov / (pred.var(unbiased=False) + target.var(unbiased=False) + (pm - tm) ** 2 + 1e-8)


class TemporalRegressor:
    """A trained (or fresh) G(.) with feature normalisation, save/load and prediction."""

    def __init__(self, cfg: TemporalConfig, state: dict | None = None, device: str = "cpu") -> None:
        import torch

        self.cfg = cfg
        self.device = device
        self.card: dict = {}  # the model card, filled by load()
        self.net = build_network(cfg).to(device)
        if state is not None:
            self.net.load_state_dict(state)
        self._torch = torch

    def normalise(self, x: np.ndarray) -> np.ndarray:
        """Inputs (..., K) in units of the training SD, NaN -> 0, float32."""
        mean, std = np.asarray(self.cfg.mean), np.asarray(self.cfg.std)
        return np.nan_to_num((np.asarray(x, np.float64) - mean) / std).astype(np.float32)

    def predict(self, seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, K) coefficients -> (valence/arousal (T, 2), class probabilities (T, 8)); NaN rows stay NaN."""
        torch = self._torch
        seq = np.asarray(seq, np.float64)
        bad = ~np.all(np.isfinite(seq), axis=1)
        self.net.eval()
        with torch.inference_mode():
            va, logits = self.net(torch.from_numpy(self.normalise(seq))[None].to(self.device))
            p = torch.softmax(logits, -1)
        va, p = va[0].cpu().numpy().astype(np.float64), p[0].cpu().numpy().astype(np.float64)
        va[bad], p[bad] = np.nan, np.nan
        return va, p

    def fit(self, train: list[tuple[np.ndarray, np.ndarray, np.ndarray]], epochs: int = 30, lr: float = 2e-3,
            batch: int = 16, seed: int = 0, log: Callable[[str], None] = print) -> list[float]:
        """Train on sequences ``(X (T, K), VA (T, 2), labels (T,) int, -1 = none)``; returns the loss per epoch."""
        torch = self._torch
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        allx = np.concatenate([s[0] for s in train])
        self.cfg.mean = np.nanmean(allx, axis=0).tolist()
        self.cfg.std = np.maximum(np.nanstd(allx, axis=0), 1e-6).tolist()
        xs = [torch.from_numpy(self.normalise(s[0])) for s in train]
        ys = [torch.from_numpy(np.asarray(s[1], np.float32)) for s in train]
        ls = [torch.from_numpy(np.asarray(s[2], np.int64)) for s in train]
        opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        ce = torch.nn.CrossEntropyLoss(ignore_index=-1)
        losses = []
        self.net.train()
        for epoch in range(epochs):
            order, total = rng.permutation(len(train)), 0.0
            for start in range(0, len(order), batch):
                idx = order[start:start + batch]
                x = torch.nn.utils.rnn.pad_sequence([xs[i] for i in idx], batch_first=True)
                y = torch.nn.utils.rnn.pad_sequence([ys[i] for i in idx], batch_first=True, padding_value=float("nan"))
                lab = torch.nn.utils.rnn.pad_sequence([ls[i] for i in idx], batch_first=True, padding_value=-1)
                va, logits = self.net(x)
                ok = torch.isfinite(y).all(-1)
                loss = ((va[ok] - y[ok]) ** 2).mean() + 0.5 * (ccc_loss(va[ok][:, 0], y[ok][:, 0])
                                                            + ccc_loss(va[ok][:, 1], y[ok][:, 1]))
                if (lab >= 0).any():
                    loss = loss + 0.5 * ce(logits.reshape(-1, logits.shape[-1]), lab.reshape(-1))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            losses.append(total / len(train))
            if epoch % 10 == 0 or epoch == epochs - 1:
                log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
        self.net.eval()
        return losses

    def save(self, path: Path, card: dict | None = None) -> Path:
        """Weights + config (+ model card) in one file, written atomically."""
        from facelens.core.common.atomic import atomic_path, atomic_write_text

        path = Path(path)
        blob = {"config": asdict(self.cfg), "state": self.net.state_dict(), "card": card or {},
                "format": "facelens-va-temporal-1"}
        with atomic_path(path, make_parents=True) as tmp:
            self._torch.save(blob, tmp)
        atomic_write_text(path.with_suffix(".card.json"), json.dumps(card or {}, indent=1))
        return path

    @classmethod
    def load(cls, path: Path, device: str = "cpu") -> TemporalRegressor:
        """Load a file written by :meth:`save` (``ValueError`` with one line otherwise)."""
        import torch

        try:
            blob = torch.load(Path(path), map_location=device, weights_only=False)
            if blob.get("format") != "facelens-va-temporal-1":
                raise ValueError("not a FaceLens temporal VA model")
            reg = cls(TemporalConfig(**blob["config"]), blob["state"], device=device)
        except FileNotFoundError:
            raise ValueError(f"no such model file: {path}") from None
        except Exception as exc:  # pickle/zip errors come in many types
            raise ValueError(f"{Path(path).name} is not a FaceLens temporal VA model: {str(exc).splitlines()[0]}") from None
        reg.card = blob.get("card", {})
        return reg
