"""Which device and which face tracker an analysis uses, and the cards of their models."""
from __future__ import annotations

from typing import Any

from facelens.core.analysis.contract import AnalysisConfig, PipelineError
from facelens.core.common.threads import nvidia_device_present


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise PipelineError(f"unknown device {device!r} (use auto, cpu or cuda)")
    if device == "cpu":
        return "cpu"
    if device == "auto" and not nvidia_device_present():
        return "cpu"  # no NVIDIA driver device: CUDA cannot be there, and torch need not be imported to say so
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise PipelineError("device 'cuda' requested but torch sees no CUDA GPU")


def make_tracker(config: AnalysisConfig, device: str, static: bool) -> Any:
    """A fresh tracker (no state from earlier frames) of the configured backend."""
    if config.backend == "mediapipe":
        from facelens.core.face.tracking import FaceTracker

        return FaceTracker(static=static)
    try:
        from facelens.core.face.torchface.tracker import TorchFaceTracker
    except ImportError as exc:
        raise PipelineError(f"the torch face-tracking backend is not available ({exc})") from None
    return TorchFaceTracker(device=device, static=static) if static else TorchFaceTracker(device=device)


def tracker_cards(config: AnalysisConfig, device: str) -> list[dict]:
    from facelens.core.registry import ModelError, registry

    cards = []
    for mid in ("mediapipe-face-detection-short", "mediapipe-face-landmark-attention"):
        try:
            card = registry.get(mid).as_dict()
        except ModelError:
            card = {"id": mid}
        card["runtime_used"] = "mediapipe FaceMesh (CPU)" if config.backend == "mediapipe" else f"torch ({device})"
        cards.append(card)
    return cards


class TorchThreads:
    """On CPU, run torch and onnxruntime single-threaded while analysing, then restore the setting.

    The decoder thread and mediapipe's own threads already occupy the cores; torch's OpenMP
    workers spinning beside them made the emotion model ~7x slower per face (measured on the
    2-core build machine: 50 ms vs 7 ms per frame).
    """

    def __init__(self, device: str) -> None:
        self.device, self.saved = device, 0

    def __enter__(self) -> None:
        from facelens.core.common import threads

        if self.device == "cpu":
            self.saved = threads.cpu_threads()
            threads.set_cpu_threads(1)

    def __exit__(self, *exc: object) -> None:
        from facelens.core.common import threads

        if self.saved:
            threads.set_cpu_threads(None)
            import sys

            torch = sys.modules.get("torch")
            if torch is not None:
                torch.set_num_threads(self.saved)
