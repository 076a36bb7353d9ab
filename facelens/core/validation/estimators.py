"""Valence/arousal estimators the harness can score, by name, run on stored :class:`FrameData`.

``circumplex`` is exactly what ``facelens analyze`` runs by default (FER2013 posterior fused with
the FACS-prototype evidence, then :class:`~facelens.core.affect.va.CircumplexVA`); the ablations
``appearance-only`` (FER2013 posterior on the circumplex, no fusion, no geometric cues) and
``geometry-only`` (geometric cues alone) take parts of it away. A candidate estimator is added with
:func:`register`; ``g`` (the temporal regressor) is looked up in :mod:`facelens.core.affect.g_runtime` (or
``temporal``) when that module provides ``harness_estimator(**params) -> EstimateFn`` (a function of
:class:`FrameData`, which carries the landmarks G's coefficients are fitted from). An estimator
fitted on DiffusionFER sets ``fitted_on_diffusionfer = True`` on the returned function, so the
harness scores its accuracy only out of fold.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from facelens.core.validation.runner import FrameData

#: (valence (N,), arousal (N,), emotion posterior (N, 7) or None) from one session's FrameData.
EstimateFn = Callable[[FrameData], tuple[np.ndarray, np.ndarray, np.ndarray | None]]
_REGISTRY: dict[str, Callable[..., EstimateFn]] = {}


def register(name: str, factory: Callable[..., EstimateFn]) -> None:
    """Make ``factory(**overrides)`` available to the harness under ``name``."""
    _REGISTRY[name] = factory


def _names() -> list[str]:
    from facelens.core.face.geometry import EXPRESSION_NAMES

    return list(EXPRESSION_NAMES)


def circumplex(mode: str = "combined", **params: Any) -> EstimateFn:
    """The shipped estimator (``mode`` combined), or an ablation (appearance / geometry).

    ``params`` override :class:`CircumplexVA` fields (sensitivity analysis).
    """
    from facelens.core.affect.fer import FER_LABELS
    from facelens.core.affect.va import CircumplexVA

    if mode not in ("combined", "appearance", "geometry"):
        raise ValueError(f"unknown mode {mode!r}")

    def run(d: FrameData) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        kw = dict(params)
        if mode == "appearance":
            kw["emotion_weight"] = 1.0
        va = CircumplexVA(labels=FER_LABELS, **kw)
        usable = d.usable
        if mode == "combined":
            post, v, a = va.estimate_fused(d.fer, d.expressions, _names(), d.time_s, usable)
            post = np.where(np.isfinite(d.fer), post, np.nan)
            return v, a, post
        emotions = d.fer if mode == "appearance" else None
        v, a = va.estimate(emotions, d.expressions, _names(), d.time_s, usable)
        return v, a, (d.fer if mode == "appearance" else None)

    return run


def anchored(**params: Any) -> EstimateFn:
    """The shipped estimator with a fixed, order-free baseline: :func:`affect.anchor.anchor_robust`
    from the raw FER2013 neutral probability (the candidate fix of the self-feeding baseline)."""
    from facelens.core.affect.anchor import anchor_robust
    from facelens.core.affect.fer import FER_LABELS

    def run(d: FrameData) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        anchor = anchor_robust(d.expressions, d.usable, d.fer[:, list(FER_LABELS).index("neutral")], _names())
        return circumplex("combined", anchor=anchor, **params)(d)

    return run


register("circumplex", lambda **kw: circumplex("combined", **kw))
register("circumplex-anchored", anchored)
register("appearance-only", lambda **kw: circumplex("appearance", **kw))
register("geometry-only", lambda **kw: circumplex("geometry", **kw))


def g_estimator(**params: Any) -> EstimateFn:
    """The shipped temporal regressor G (``models/g``) exactly as the analysis stores it: pose-free
    meshes -> :func:`facelens.core.affect.g_session.g_session` (the person's reference from the
    whole session, mirror average, fresh state after a pause) with the raw FER2013 posterior. G was fitted on the
    DiffusionFER labels, so the harness does not score its accuracy there (its own CV does)."""
    from facelens.core.affect.fer import FER_LABELS
    from facelens.core.affect.g_runtime import G_LABELS, load_default_g
    from facelens.core.affect.g_session import g_session, in_memory
    from facelens.core.face import geometry
    from facelens.core.face.morphable import load_default

    model, morph = load_default_g(), load_default()
    to_fer = [G_LABELS.index({"angry": "anger"}.get(lab, lab)) for lab in FER_LABELS]

    def run(d: FrameData) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        pose = geometry.head_pose_batch(d.landmarks)
        posefree = geometry.posefree_batch(d.landmarks, pose["rotation"], pose["translation"], pose["scale"])
        res = g_session(in_memory(posefree, d.usable), d.time_s, d.fer.astype(np.float64), morph, model)
        va, p = res.valence_arousal, res.probabilities
        if va is None:
            raise RuntimeError("G gave no valence/arousal")
        return va[:, 0], va[:, 1], (None if p is None else p[:, to_fer])

    run.fitted_on_diffusionfer = True  # type: ignore[attr-defined]
    return run


def _discover() -> None:
    """Register candidate estimators that other modules offer (``harness_estimator``)."""
    import importlib

    for mod, name in (("facelens.core.affect.g_runtime", "g"), ("facelens.core.affect.temporal", "g")):
        if name in _REGISTRY:
            continue
        try:
            m = importlib.import_module(mod)
        except ImportError:
            continue
        factory = getattr(m, "harness_estimator", None)
        if callable(factory):
            register(name, factory)
    if "g" not in _REGISTRY:
        try:
            from facelens.core.affect.g_runtime import default_g_path

            if default_g_path().is_file():
                register("g", g_estimator)
        except ImportError:
            pass


def available() -> list[str]:
    """Names of the estimators the harness can score now."""
    _discover()
    return list(_REGISTRY)


def get(name: str, **params: Any) -> EstimateFn:
    """The estimator called ``name`` (ValueError naming the choices otherwise)."""
    _discover()
    if name not in _REGISTRY:
        raise ValueError(f"unknown estimator {name!r} (available: {', '.join(_REGISTRY)})")
    return _REGISTRY[name](**params)
