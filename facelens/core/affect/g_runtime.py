"""G at run time: the trained LSTM + four-layer MLP in numpy, one frame after another.

The network of :func:`facelens.core.affect.temporal.build_network`, exported to a small ``.npz``
(:func:`export_g`) and run here without torch. Each frame is one LSTM step with ``einsum`` row
products, so a session split into any batches, or replayed on resume, gives the same bits.
Unusable frames get NaN and leave the LSTM state as it was (G sees the usable frames in order,
as in training).

Inputs per frame: the morphable model's expression coefficients, then (when the model card's
``inputs`` says so) the 7-class appearance posterior in the results file's emotion order.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "facelens-g-1"  # one network
FORMAT_ENSEMBLE = "facelens-g-2"  # several networks of the same shape, outputs averaged
G_LABELS = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "anger")  # AffectNet codes 0..6


class GModelError(Exception):
    """A G weights file that cannot be used (one-line message)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class GModel:
    """Weights of G (float64 arrays, torch's layouts) and its card."""

    w_ih: np.ndarray  # (4H, K) gates i, f, g, o
    w_hh: np.ndarray  # (4H, H)
    b: np.ndarray  # (4H,) b_ih + b_hh
    layers: list[tuple[np.ndarray, np.ndarray]]  # 4 x (W (out, in), b (out,))
    mean: np.ndarray
    std: np.ndarray
    card: dict[str, Any] = field(default_factory=dict)
    more: list[GModel] = field(default_factory=list)  # further members of an ensemble (same inputs)

    @property
    def members(self) -> list[GModel]:
        """The networks whose outputs are averaged (this one first)."""
        return [self, *self.more]

    @property
    def hidden(self) -> int:
        return self.w_hh.shape[1]

    @property
    def n_inputs(self) -> int:
        return self.w_ih.shape[1]

    def _arrays(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {"w_ih": self.w_ih, "w_hh": self.w_hh, "b": self.b, "mean": self.mean, "std": self.std}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"l{i}_w"], arrays[f"l{i}_b"] = w, b
        return {prefix + k: np.asarray(v, np.float32) for k, v in arrays.items()}

    def save(self, path: Path) -> Path:
        """Write the weights and the card as one ``.npz`` (an ensemble: members ``m1_``, ``m2_``, ...)."""
        arrays = self._arrays("")
        for j, m in enumerate(self.more, start=1):
            arrays.update(m._arrays(f"m{j}_"))
        fmt = FORMAT_ENSEMBLE if self.more else FORMAT
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, format=np.array(fmt), card=np.array(json.dumps(self.card)),
                            n_members=np.array(len(self.members)), **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> GModel:
        """Read a file written by :meth:`save` (:class:`GModelError` otherwise)."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                fmt = str(z["format"])
                if fmt not in (FORMAT, FORMAT_ENSEMBLE):
                    raise GModelError(f"{Path(path).name} is not a FaceLens G model")
                f = {k: z[k].astype(np.float64) for k in z.files if k not in ("format", "card", "n_members")}
                n = int(z["n_members"]) if fmt == FORMAT_ENSEMBLE else 1
                card = json.loads(str(z["card"]))
        except FileNotFoundError:
            raise GModelError(f"G model not found: {path}") from None
        except (OSError, KeyError, ValueError) as exc:
            raise GModelError(f"{Path(path).name} is not a FaceLens G model: {exc}") from None
        try:
            nets = [cls._from(f, "" if j == 0 else f"m{j}_", card) for j in range(n)]
        except KeyError as exc:
            raise GModelError(f"{Path(path).name} is not a FaceLens G model: missing {exc}") from None
        nets[0].more = nets[1:]
        return nets[0]

    @classmethod
    def _from(cls, f: dict[str, np.ndarray], prefix: str, card: dict[str, Any]) -> GModel:
        layers = [(f[f"{prefix}l{i}_w"], f[f"{prefix}l{i}_b"]) for i in range(4)]
        return cls(f[prefix + "w_ih"], f[prefix + "w_hh"], f[prefix + "b"], layers, f[prefix + "mean"],
                   f[prefix + "std"], card)


def export_g(reg: Any, card: dict[str, Any]) -> GModel:
    """A :class:`GModel` from a trained :class:`~facelens.core.affect.temporal.TemporalRegressor`
    (or a list of them: an ensemble whose outputs are averaged)."""
    if isinstance(reg, (list, tuple)):
        nets = [export_g(r, card) for r in reg]
        nets[0].more = nets[1:]
        return nets[0]
    sd = {k: v.detach().cpu().numpy().astype(np.float64) for k, v in reg.net.state_dict().items()}
    lin = [k[:-len(".weight")] for k in sd if k.startswith("mlp.") and k.endswith(".weight")]
    layers = [(sd[f"{k}.weight"], sd[f"{k}.bias"]) for k in lin]
    return GModel(sd["encoder.weight_ih_l0"], sd["encoder.weight_hh_l0"],
                  sd["encoder.bias_ih_l0"] + sd["encoder.bias_hh_l0"], layers,
                  np.asarray(reg.cfg.mean, np.float64), np.asarray(reg.cfg.std, np.float64), card)


class GRunner:
    """One session of G in time order: :meth:`step` on batches, :meth:`reset` between sessions.

    The members of an ensemble (and, with ``n_seq`` > 1, several sequences of the same length, such
    as a session and its mirror image) are stepped together: one array product per frame for all
    of them, instead of one per member and sequence.
    """

    def __init__(self, model: GModel, n_seq: int = 1) -> None:
        self.model = model
        self.n_seq = int(n_seq)
        ms = model.members
        # transposed for stacked matrix products (rows @ weights), which BLAS runs far faster than einsum
        self._w_ih = np.ascontiguousarray(np.stack([m.w_ih for m in ms]).transpose(0, 2, 1))  # (M, K, 4H)
        self._w_hh = np.ascontiguousarray(np.stack([m.w_hh for m in ms]).transpose(0, 2, 1))  # (M, H, 4H)
        self._b = np.stack([m.b for m in ms])  # (M, 4H)
        self._mean, self._std = np.stack([m.mean for m in ms]), np.stack([m.std for m in ms])  # (M, K)
        self._layers = [(np.ascontiguousarray(np.stack([m.layers[j][0] for m in ms]).transpose(0, 2, 1)),
                         np.stack([m.layers[j][1] for m in ms])) for j in range(len(model.layers))]  # (M, in, out)
        self.reset()

    def reset(self) -> None:
        shape = (self.n_seq, len(self._w_ih), self.model.hidden)
        self.h = np.zeros(shape)
        self.c = np.zeros(shape)

    def step(self, x: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(valence/arousal (B, 2), probabilities (B, 7) in :data:`G_LABELS` order); NaN where not usable.
        An ensemble averages its members' valence/arousal and probabilities. With ``n_seq`` > 1,
        ``x`` is (n_seq, B, K), ``usable`` (B,) is shared, and the outputs are (n_seq, B, ...)."""
        x = np.asarray(x, np.float64)
        multi = self.n_seq > 1
        xs = x.reshape(self.n_seq, x.shape[-2] if multi else len(x), -1)
        n_h = self.model.hidden
        ok = np.asarray(usable, bool) & np.all(np.isfinite(xs), axis=(0, 2))
        z = np.nan_to_num((xs[:, None] - self._mean[None, :, None]) / self._std[None, :, None])  # (S, M, B, K)
        pre = np.matmul(z, self._w_ih) + self._b[None, :, None]  # (S, M, B, 4H)
        hs = np.zeros(z.shape[:3] + (n_h,))
        for i in np.flatnonzero(ok):
            g = pre[:, :, i] + np.matmul(self.h[:, :, None, :], self._w_hh)[:, :, 0]
            s = _sigmoid(g)  # gates i, f, g, o: the candidate's columns are replaced by tanh below
            self.c = s[..., n_h:2 * n_h] * self.c + s[..., :n_h] * np.tanh(g[..., 2 * n_h:3 * n_h])
            self.h = s[..., 3 * n_h:] * np.tanh(self.c)
            hs[:, :, i] = self.h
        a = np.concatenate([hs, z], axis=3)
        for j, (w, b) in enumerate(self._layers):
            a = np.matmul(a, w) + b[None, :, None]
            if j < len(self._layers) - 1:
                a = np.maximum(a, 0.0)
        va = np.tanh(a[..., :2])
        logits = a[..., 2:]
        e = np.exp(logits - logits.max(axis=-1, keepdims=True))
        p = e / e.sum(axis=-1, keepdims=True)
        va, p = va.mean(axis=1), p.mean(axis=1)  # (S, B, .): the ensemble's average
        va[:, ~ok], p[:, ~ok] = np.nan, np.nan
        return (va, p) if multi else (va[0], p[0])


def default_g_path() -> Path:
    """``models/g/facelens_g.npz`` of the source tree or the installed share folder."""
    from facelens.core.common.paths import models_src_dir

    return models_src_dir() / "g" / "facelens_g.npz"


_DEFAULT: list[GModel] = []


def load_default_g() -> GModel:
    """The shipped G (loaded once per process; :class:`GModelError` when missing or broken)."""
    if not _DEFAULT:
        try:
            path = default_g_path()
        except FileNotFoundError as exc:
            raise GModelError(str(exc)) from None
        _DEFAULT.append(GModel.load(path))
    return _DEFAULT[0]
