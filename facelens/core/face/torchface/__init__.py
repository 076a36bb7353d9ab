"""Mediapipe's face detector and 478-point face mesh as batched PyTorch modules.

The weights are read straight from the ``.tflite`` files in the mediapipe wheel
(:mod:`.tflite`), executed op by op (:mod:`.graph`, :mod:`.custom_ops`), wrapped with
mediapipe's pre/post-processing (:mod:`.detector`, :mod:`.mesh`, :mod:`.roi`) and
driven frame by frame or in batches by :class:`.tracker.TorchFaceTracker`.
Importing this package is cheap; torch is imported by the submodules.
"""
from __future__ import annotations

__all__ = ["TorchFaceTracker"]


def __getattr__(name: str):  # lazy: `import facelens.core.face.torchface` must not import torch
    if name in __all__:
        from . import tracker

        return getattr(tracker, name)
    raise AttributeError(name)
