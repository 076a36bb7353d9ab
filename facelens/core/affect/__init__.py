"""Affect: emotion probabilities, valence and arousal per frame (Qt-free).

Entry point for the pipeline: :class:`facelens.core.affect.stage.AffectStage`. Heavy libraries
(torch, onnxruntime, OpenCV) are imported inside the functions that need them.
"""
from __future__ import annotations

from facelens.core.affect.fer import FER_LABELS

__all__ = ["FER_LABELS", "AffectStage"]


def __getattr__(name: str) -> object:
    if name == "AffectStage":  # lazy, so importing the package stays cheap
        from facelens.core.affect.stage import AffectStage

        return AffectStage
    raise AttributeError(name)
