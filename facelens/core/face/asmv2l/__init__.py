"""AsmV2L ("Adaptive Shape Model with Vision-to-Language"): the seed paper's text-guided
reconstruction network on the FaceLens morphable model, in plain torch.

Modules here (what runs the network): :mod:`.resnet` (ResNet-18), :mod:`.network` (Table 1),
:mod:`.regions` (region binding), :mod:`.text` (rule-generated region phrases, all-MiniLM-L6-v2),
:mod:`.render` (differentiable rasteriser), :mod:`.crops`, :mod:`.checkpoint`, :mod:`.inference`
(batched per-frame coefficients). Training, evaluation and export: :mod:`facelens.core.training.asmv2l`.
Recipe and measurements: ``docs/asmv2l.md``.
"""
from __future__ import annotations

from typing import Any

__all__ = ["AsmConfig", "AsmV2L"]


def __getattr__(name: str) -> Any:  # lazy: importing the package (every analysis does) must not import torch
    if name in __all__:
        from facelens.core.face.asmv2l import network

        return getattr(network, name)
    raise AttributeError(name)
