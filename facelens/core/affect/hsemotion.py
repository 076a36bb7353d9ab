"""HSEmotion-format ONNX models (user-provided), run with onnxruntime.

Format (Savchenko 2022, the ``hsemotion-onnx`` package's multi-task models such as enet_b0_8_va_mtl):
input ``(B or 1, 3, 224, 224)`` float32 RGB, ``x / 255`` normalised with the ImageNet mean/std;
output ``(B, 10)``: 8 emotion logits in AffectNet order (anger, contempt, disgust, fear, happiness,
neutral, sadness, surprise) followed by valence and arousal. Such weights cannot be downloaded here;
a user drops the file into the user models folder as ``hsemotion.onnx`` and FaceLens prefers it.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.core.affect.fer import FER_LABELS

HSE_LABELS = ("anger", "contempt", "disgust", "fear", "happiness", "neutral", "sadness", "surprise")
# column of each FER label in the HSEmotion output; contempt has no FER2013 class and is dropped
_TO_FER = [HSE_LABELS.index(n) for n in ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")]
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
INPUT_SIZE = 224
MODEL_ID = "hsemotion-onnx"


class HSEmotionModel:
    """An HSEmotion ONNX model giving emotions (in :data:`FER_LABELS` order) and valence/arousal.

    Parameters
    ----------
    path
        The .onnx file.
    device
        ``cpu``, ``cuda`` or ``auto`` (CUDA only when onnxruntime has the CUDA provider).

    Raises
    ------
    ValueError
        When the file does not have the HSEmotion input/output signature (one-line message).
    """

    labels = FER_LABELS
    model_id = MODEL_ID

    def __init__(self, path: Path, device: str = "auto") -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(path), providers=providers)
        except Exception as exc:  # onnxruntime raises several types for unreadable files
            raise ValueError(f"{Path(path).name} is not a loadable ONNX model: {str(exc).splitlines()[0]}") from None
        inp = self.session.get_inputs()[0]
        out = self.session.get_outputs()[0]
        shape = list(inp.shape)
        if len(shape) != 4 or shape[1] != 3 or shape[2:] != [INPUT_SIZE, INPUT_SIZE]:
            raise ValueError(f"{Path(path).name}: input {inp.name} has shape {shape}, expected (B, 3, 224, 224)")
        if list(out.shape)[-1] != 10:
            raise ValueError(f"{Path(path).name}: output has shape {out.shape}, expected (B, 10): 8 logits + V + A")
        self.input_name = inp.name
        self.fixed_batch = isinstance(shape[0], int)  # a batch dim of 1 baked in: run faces one by one
        self.path = Path(path)

    @staticmethod
    def preprocess(rgb_crops: np.ndarray) -> np.ndarray:
        """uint8 (B, 224, 224, 3) RGB -> float32 (B, 3, 224, 224) ImageNet-normalised."""
        x = (np.asarray(rgb_crops, dtype=np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw (B, 10) outputs for preprocessed inputs."""
        if self.fixed_batch:
            return np.concatenate([self.session.run(None, {self.input_name: x[i:i + 1]})[0] for i in range(len(x))])
        return self.session.run(None, {self.input_name: x})[0]

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(emotions (B, 7) in FER label order, valence/arousal (B, 2)) for preprocessed inputs."""
        if len(x) == 0:
            return np.zeros((0, 7), np.float32), np.zeros((0, 2), np.float32)
        out = self.raw(x).astype(np.float64)
        z = out[:, :8] - out[:, :8].max(axis=1, keepdims=True)
        p8 = np.exp(z)
        p8 /= p8.sum(axis=1, keepdims=True)
        p7 = p8[:, _TO_FER]
        p7 /= p7.sum(axis=1, keepdims=True)
        return p7.astype(np.float32), np.clip(out[:, 8:10], -1.0, 1.0).astype(np.float32)

    def predict_faces(self, frames_rgb: list[np.ndarray], bboxes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Emotions and valence/arousal for one face box per frame."""
        from facelens.core.affect.crops import rgb_face_crop

        if not frames_rgb:
            return self.predict(np.zeros((0, 3, INPUT_SIZE, INPUT_SIZE), np.float32))
        crops = np.stack([rgb_face_crop(f, b, INPUT_SIZE) for f, b in zip(frames_rgb, bboxes)])
        return self.predict(self.preprocess(crops))


def find_user_model() -> Path | None:
    """The HSEmotion ONNX in the user models folder, if a user put one there."""
    from facelens.core.registry import registry

    loc = registry.location(MODEL_ID)
    return loc if loc is not None and loc.is_file() else None
