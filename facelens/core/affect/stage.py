"""The affect stage: emotion probabilities, valence and arousal for a batch of tracked frames.

The pipeline calls::

    stage = AffectStage.default(device="auto")
    out = stage.process(frames_rgb, observations, expressions, times)
    # out["emotions"] (B, 7) float32, out["valence"] (B,), out["arousal"] (B,)

With the default FER2013 model, ``emotions`` is the *fused* posterior (FER2013 + FACS-prototype
evidence from the expression measures, :mod:`facelens.core.affect.fusion`); the raw FER2013 posterior
comes back as ``emotions_fer`` when ``process(..., include_fer=True)`` is asked for (not by default,
because the results schema has no such column yet). Rows of unusable frames
(``core.types.is_usable``) are NaN: nothing is made up for a missing face. One stage instance serves
one session in time order (the neutral baseline and smoothing keep state across batches); call
:meth:`AffectStage.reset` before another session. To resume a session, replay its stored frames
through :meth:`AffectStage.warm_up` (or ``stage.va.estimate`` with the stored ``emotions``).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from facelens.core.affect.fer import FER_LABELS, FerEmotionModel
from facelens.core.affect.va import CircumplexVA, DirectVA, ValenceArousalEstimator
from facelens.core.common.types import FaceObservation, is_usable

log = logging.getLogger(__name__)


@dataclass
class FrameEmotions:
    """The emotion model's output for a block of frames, before the stateful valence/arousal pass.

    ``usable`` (B,) bool: frames with a usable face (the others get NaN everywhere);
    ``probabilities`` (B, 7) float32: the appearance model's posterior; ``direct_va`` (B, 2): the
    model's own valence/arousal (HSEmotion) or ``None``. Rows can be sliced and joined, so engines
    that run the model on other batches (chunks side by side) regroup them into the writer's blocks.
    """

    usable: np.ndarray
    probabilities: np.ndarray
    direct_va: np.ndarray | None = None

    def rows(self, start: int, stop: int) -> FrameEmotions:
        """Rows ``start .. stop-1``."""
        d = None if self.direct_va is None else self.direct_va[start:stop]
        return FrameEmotions(self.usable[start:stop], self.probabilities[start:stop], d)

    @staticmethod
    def concat(parts: Sequence[FrameEmotions]) -> FrameEmotions:
        """Rows of ``parts`` one after the other."""
        d = None if parts[0].direct_va is None else np.concatenate([p.direct_va for p in parts])  # type: ignore[misc]
        return FrameEmotions(np.concatenate([p.usable for p in parts]),
                             np.concatenate([p.probabilities for p in parts]), d)


class AffectStage:
    """Emotion model + valence/arousal estimator.

    ``AffectStage.fuse_default`` (True) sets whether new stages fuse the FER2013 posterior with the
    geometric evidence; evaluation code switches it off to store the raw posterior.

    Parameters
    ----------
    emotion_model
        :class:`FerEmotionModel` (default) or :class:`HSEmotionModel` (user-provided, also gives VA),
        or ``None`` for geometry-only valence/arousal.
    va
        Valence/arousal estimator used when the emotion model gives no valence/arousal itself.
    expression_names
        Names of the expression columns (``geometry.EXPRESSION_NAMES`` when omitted).
    """

    fuse_default: bool = True

    def __init__(self, emotion_model: object | None, va: ValenceArousalEstimator | None = None,
                 expression_names: Sequence[str] | None = None) -> None:
        self.emotion_model = emotion_model
        self.va = va if va is not None else CircumplexVA(labels=FER_LABELS)
        self._direct = DirectVA()
        self._names = list(expression_names) if expression_names is not None else None
        self.fuse = type(self).fuse_default  # fuse the FER2013 posterior with FACS-prototype evidence (default estimator)
        self.notices: list[str] = []  # what the user should know about the models in use
        self.g: Any = None  # a GEstimator (core.affect.g_stage) when G estimates valence/arousal/emotions

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def default(cls, device: str = "auto", prefer_user_models: bool = True, va: str | None = None) -> AffectStage:
        """The best available models: a user's HSEmotion ONNX if present, else the FER2013 model.

        ``va="g"`` makes G (:mod:`facelens.core.affect.g_stage`) the valence/arousal/emotion
        estimator on top of the FER2013 model (its appearance input); the user's HSEmotion model is
        then not used.

        Raises
        ------
        facelens.core.registry.ModelError
            When the FER2013 weights are missing or corrupted (message names ``facelens models fetch``).
        """
        from facelens.core.affect.g_stage import DEFAULT_ESTIMATOR, ESTIMATORS, GEstimator

        va = DEFAULT_ESTIMATOR if va is None else va
        if va not in ESTIMATORS:
            raise ValueError(f"unknown valence/arousal estimator '{va}' (use {' or '.join(ESTIMATORS)})")
        notices = []
        if prefer_user_models and va == "circumplex":
            from facelens.core.affect.hsemotion import HSEmotionModel, find_user_model

            onnx = find_user_model()
            if onnx is not None:
                try:
                    stage = cls(HSEmotionModel(onnx, device=device))
                    stage.notices.append(f"using the user-provided HSEmotion model {onnx.name}")
                    return stage
                except ValueError as exc:
                    notices.append(f"ignored {onnx.name}: {exc}")
        fer = FerEmotionModel(device=device)
        stage = cls(fer)
        if va == "g":
            from facelens.core.common.devices import array_backend_device

            stage.g = GEstimator.default(stage.emotion_labels, array_backend_device(device))
            if prefer_user_models:
                from facelens.core.affect.hsemotion import find_user_model

                onnx = find_user_model()
                if onnx is not None:
                    notices.append(f"the user-provided HSEmotion model {onnx.name} is used only with "
                                   "--va circumplex (G reads the FER2013 posterior it was trained on)")
        notice = getattr(fer, "notice", "")
        if notice:
            notices.append(notice)
        stage.notices.extend(notices)
        return stage

    # -- metadata ---------------------------------------------------------------------------
    @property
    def emotion_labels(self) -> list[str]:
        """Column names of ``emotions``."""
        return list(FER_LABELS)

    @property
    def uses_model_va(self) -> bool:
        """True when valence/arousal come from the emotion model (HSEmotion), not the estimator."""
        return getattr(self.emotion_model, "model_id", "") == "hsemotion-onnx"

    def model_cards(self) -> list[dict]:
        """Cards of the models in use (for the results file and the report)."""
        from facelens.core.registry import ModelError, registry

        cards = []
        mid = getattr(self.emotion_model, "model_id", None)
        if mid:
            try:
                card = registry.get(mid).as_dict()
            except ModelError:
                card = {"id": mid}
            if mid == "hsemotion-onnx":
                card["file"] = str(getattr(self.emotion_model, "path", card.get("file", "")))
            backend = getattr(self.emotion_model, "backend", "")
            if backend:  # which runtime ran the weights (torch, or onnxruntime on CPU; same outputs ≤1e-5)
                card["runtime_backend"] = str(backend)
            cards.append(card)
        if self.g is not None:
            cards.append(self.g.card())
        if self.g is not None:
            cards.append({"id": "valence-arousal", "version": "g", "task": "valence/arousal estimator",
                          "source": {"kind": "shipped", "path": "g/facelens_g.npz"},
                          "notes": "G (LSTM + 4-layer MLP) over the morphable model's expression coefficients "
                                   "and the FER2013 posterior, computed over the whole session "
                                   "(core/affect/g_session.py); trained on synthetic DiffusionFER stills; "
                                   "docs/validity.md"})
            return cards
        va_name = "model-va (" + str(mid) + ")" if self.uses_model_va else self.va.name
        cards.append({"id": "valence-arousal", "version": va_name, "task": "valence/arousal estimator",
                      "source": {"kind": "code", "path": "facelens/core/affect/va.py"},
                      "notes": "default: emotion posterior (FER2013 fused with FACS-prototype evidence from the "
                               "expression measures) on Warriner et al. 2013 circumplex coordinates + geometric "
                               "cues relative to a slow neutral baseline; not validated against valence/arousal "
                               "ground truth"})
        return cards

    def reset(self) -> None:
        """Start a new session (clears smoothing state)."""
        self.va.reset()
        self._direct.reset()
        if self.g is not None:
            self.g.reset()

    @property
    def appearance_preprocessing(self) -> str:
        """How the emotion model's crops were prepared (results ``appearance_preprocessing``)."""
        from facelens.core.affect.illumination import FER_PACKAGE

        made = getattr(self.emotion_model, "preprocessing", None)
        if isinstance(made, str):
            return made
        return FER_PACKAGE if self.emotion_model is not None else "none"

    @property
    def va_kind(self) -> str:
        """Which estimator fills valence, arousal and emotions: ``circumplex`` or ``g``."""
        return "g" if self.g is not None else "circumplex"

    # -- work -------------------------------------------------------------------------------
    def _expression_names(self, k: int) -> list[str]:
        if self._names is None:
            try:
                from facelens.core.face.geometry import EXPRESSION_NAMES

                self._names = list(EXPRESSION_NAMES)
            except ImportError:
                self._names = []
        if len(self._names) != k:
            return [f"expr_{i}" for i in range(k)]  # unknown layout: no named cue applies
        return self._names

    def emotions(self, frames_rgb: list[np.ndarray], observations: list[FaceObservation]) -> FrameEmotions:
        """The stateless part: the emotion model on the batch's usable faces (one call, one batch).

        Any thread may run it, in any order; :meth:`valence_arousal` then takes the result in time order.
        """
        b = len(observations)
        if len(frames_rgb) != b:
            raise ValueError(f"batch sizes differ: {len(frames_rgb)} frames, {b} observations")
        usable = np.array([bool(is_usable(np.array(o.quality))) and o.bbox is not None
                           and np.all(np.isfinite(o.bbox)) for o in observations], dtype=bool)
        probs = np.full((b, len(FER_LABELS)), np.nan, dtype=np.float32)
        direct = np.full((b, 2), np.nan) if self.uses_model_va else None
        idx = np.flatnonzero(usable)
        if self.emotion_model is not None and idx.size:
            faces = [frames_rgb[i] for i in idx]
            boxes = [np.asarray(observations[i].bbox, dtype=np.float64) for i in idx]
            if direct is not None:
                p, va = self.emotion_model.predict_faces(faces, boxes)  # type: ignore[attr-defined]
                direct[idx] = va
            else:
                p = self.emotion_model.predict_faces(faces, boxes)  # type: ignore[attr-defined]
            probs[idx] = p
        return FrameEmotions(usable=usable, probabilities=probs, direct_va=direct)

    def valence_arousal(self, emotions: FrameEmotions, expressions: np.ndarray, times: np.ndarray,
                        include_fer: bool = False, coef: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The stateful part, called in time order: emotions (B, 7) as stored (fused by default),
        valence (B,) and arousal (B,) float32; NaN rows where unusable.

        ``include_fer`` adds ``emotions_fer``: the appearance model's own posterior before fusion.
        With G (``va_kind == "g"``), ``coef`` (B, K_exp) are the block's expression coefficients,
        G gives emotions/valence/arousal and the raw FER2013 posterior comes back as
        ``emotions_appearance`` (no fusion runs).
        """
        b = len(emotions.usable)
        if len(times) != b:
            raise ValueError(f"batch sizes differ: {b} emotion rows, {len(times)} times")
        expressions = np.asarray(expressions, dtype=np.float64)
        expressions = expressions.reshape(b, -1) if b else expressions.reshape(0, -1 if expressions.size else 0)
        times = np.asarray(times, dtype=np.float64)
        usable, raw = emotions.usable, emotions.probabilities
        if self.g is not None and emotions.direct_va is None:
            out = self.g.apply(raw, coef, usable, times)
            if include_fer:
                out["emotions_fer"] = raw
            return out
        out_emotions = raw
        if emotions.direct_va is not None and self.emotion_model is not None:
            valence, arousal = self._direct.smooth(emotions.direct_va, times, usable)
        else:
            names = self._expression_names(expressions.shape[1] if b else 0)
            if self.emotion_model is not None and self.fuse and hasattr(self.va, "estimate_fused"):
                fused, valence, arousal = self.va.estimate_fused(raw, expressions, names, times, usable)
                out_emotions = np.where(np.isfinite(raw), fused, np.nan).astype(np.float32)
            else:
                valence, arousal = self.va.estimate(raw if self.emotion_model is not None else None,
                                                    expressions, names, times, usable)
        out = {"emotions": out_emotions, "valence": valence.astype(np.float32),
               "arousal": arousal.astype(np.float32)}
        if include_fer:
            out["emotions_fer"] = raw
        return out

    def process(self, frames_rgb: list[np.ndarray], observations: list[FaceObservation],
                expressions: np.ndarray, times: np.ndarray, include_fer: bool = False,
                coef: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """:meth:`emotions` then :meth:`valence_arousal` on one batch (sequential use; ``coef`` as there)."""
        if len(times) != len(observations):
            raise ValueError(f"batch sizes differ: {len(observations)} observations, {len(times)} times")
        return self.valence_arousal(self.emotions(frames_rgb, observations), expressions, times, include_fer, coef)

    def warm_up(self, emotions: np.ndarray | None, expressions: np.ndarray, times: np.ndarray,
                quality: np.ndarray, coef: np.ndarray | None = None, appearance: np.ndarray | None = None) -> None:
        """Rebuild the session state from stored frames (``--resume``): stored (fused) ``emotions``,
        ``expressions`` (N, K), ``time_s`` and ``quality`` codes, in time order."""
        if self.uses_model_va:
            return  # model-given VA is smoothed over 0.3 s only; nothing long-lived to rebuild
        expressions = np.asarray(expressions, dtype=np.float64)
        n = len(times)
        names = self._expression_names(expressions.reshape(n, -1).shape[1] if n else 0)
        usable = np.asarray(is_usable(np.asarray(quality)), dtype=bool)
        if self.g is not None:  # G alone keeps state (the default estimator does not run with G)
            if coef is None or appearance is None:
                raise ValueError("resuming a G analysis needs the stored coef_exp and emotions_appearance")
            self.g.replay(coef, appearance, usable & np.all(np.isfinite(np.asarray(appearance)), axis=1),
                          np.asarray(times, dtype=np.float64))
            return
        self.va.estimate(emotions if self.emotion_model is not None else None, expressions, names,
                         np.asarray(times, dtype=np.float64), usable)
