"""Model checks before an analysis starts: every weight file it will load is present and verified.

An analysis used to discover a missing or corrupted emotion model only after the video was probed and
the face tracker built (with a fresh home directory: minutes of set-up, then exit 1). The CLI
(``analyze``, ``batch``) and the GUI call :func:`check_models` first, so the user gets one line
naming the model and what to do, before any model is loaded.

Which files: the two mediapipe face models both backends use (mediapipe runs them, the torch
backend reads their ``.tflite`` weights) and the emotion model the affect stage will pick: a user's
HSEmotion ONNX when one is installed (see :meth:`facelens.core.affect.stage.AffectStage.default`),
else the FER2013 weights. Each is checked against the SHA-256 in ``models/manifest.toml``
(``registry.path``); nothing is imported or loaded here.
"""
from __future__ import annotations

from pathlib import Path

from facelens.core.registry import ModelError, registry

TRACKER_MODELS = ("mediapipe-face-detection-short", "mediapipe-face-landmark-attention")
EMOTION_MODEL = "fer2013-mini-xception"
USER_EMOTION_MODEL = "hsemotion-onnx"

__all__ = ["EMOTION_MODEL", "TRACKER_MODELS", "check_models", "required_models"]


def required_models(prefer_user_models: bool = True) -> list[str]:
    """Ids of the models an analysis loads, in the order it loads them."""
    emotion = EMOTION_MODEL
    if prefer_user_models:
        loc = registry.location(USER_EMOTION_MODEL)
        if loc is not None and loc.is_file():
            emotion = USER_EMOTION_MODEL
    return [*TRACKER_MODELS, emotion]


def check_models(prefer_user_models: bool = True) -> dict[str, Path]:
    """Verified paths of every model an analysis needs.

    Raises
    ------
    ModelError
        One line naming the first missing or corrupted model (and ``facelens models fetch`` or the
        package to reinstall).
    """
    return {mid: registry.path(mid) for mid in required_models(prefer_user_models)}


def model_error_line(exc: ModelError) -> str:
    """The message the CLI and GUI show (the registry's line, which already says what to do)."""
    return (str(exc).strip().splitlines() or ["model check failed"])[0]
