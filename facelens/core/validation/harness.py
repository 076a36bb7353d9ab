"""The validity harness: accuracy, reliability under nuisance, discriminant validity, invariance.

:func:`run_harness` tracks each clip once per perturbation variant (cached), runs every requested
estimator on the stored frames, and returns plain JSON-ready figures that
:mod:`facelens.core.validation.report` turns into the report. ``facelens validate`` runs the fast
subset, ``benchmarks/validity.py`` the full set.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.validation import clips as clipset
from facelens.core.validation import estimators, invariance, perturb, reliability
from facelens.core.validation.runner import Analyser, FrameData
from facelens.core.validation.sampling import sample_clip

Log = Callable[[str], None]


@dataclass
class HarnessConfig:
    """What to run. ``clips`` are relative to ``media``; ``diffusionfer`` is a ``facelens batch``
    output folder with ``labels.tsv`` (None: no accuracy section)."""

    media: Path
    clips: Sequence[clipset.ClipSpec] = clipset.FAST
    variants: Sequence[str] = ("light_from_left", "gamma_1.4", "phase_half_step")
    estimators: Sequence[str] = ("circumplex",)
    max_seconds: float = 20.0
    cache_dir: Path | None = None
    diffusionfer: Path | None = None
    pose: bool = True
    subject: bool = True


@dataclass
class ClipRun:
    """Stored frames of one clip: the original sampling and each variant's."""

    spec: clipset.ClipSpec
    base: FrameData
    variants: dict[str, FrameData] = field(default_factory=dict)

    def spans(self) -> list[tuple[float, float, str]]:
        t = self.base.time_s
        end = float(t[-1]) + 0.1 if t.size else 0.0
        labelled = [s for s in self.spec.spans if s[0] < end]
        return labelled + [(a, b, "window") for a, b in clipset.windows(end)]


IN_SAMPLE_NOTE = ("the stored DiffusionFER values were made by G, which was trained on these labels: not scored here "
                  "(its cross-validated figures: facelens eval-affect DIFFUSIONFER --results STILLS --cv 5)")


def track_all(cfg: HarnessConfig, log: Log = print) -> list[ClipRun]:
    """Track every clip and variant (FrameData, cached under ``cfg.cache_dir``)."""
    analyser = Analyser(cfg.cache_dir)
    runs = []
    for spec in clipset.available(cfg.media, tuple(cfg.clips)):
        path = cfg.media / spec.rel
        key = f"{spec.rel}:{cfg.max_seconds}"
        base_clip = sample_clip(path, 10.0, 0.0, cfg.max_seconds, spec.name)
        run = ClipRun(spec, analyser.track(base_clip, f"{key}:base"))
        for name in cfg.variants:
            v = perturb.variant(name)
            if v.apply is not None:
                frames = v.apply(base_clip.frames)
                clip = type(base_clip)(spec.name, frames, base_clip.time_s, 10.0, 0.0)
            else:
                clip = sample_clip(path, v.fps, v.phase, cfg.max_seconds, spec.name)
            run.variants[name] = analyser.track(clip, f"{key}:{name}")
        del base_clip
        log(f"tracked {spec.name}: {len(run.base.time_s)} frames, {len(run.variants)} variants")
        runs.append(run)
    return runs


def _series(d: FrameData, fn: estimators.EstimateFn) -> reliability.Series:
    v, a, _ = fn(d)
    return reliability.Series(d.time_s, np.asarray(v, float), np.asarray(a, float))


def evaluate_estimator(runs: Sequence[ClipRun], name: str, cfg: HarnessConfig, **params: Any) -> dict[str, Any]:
    """All clip-based figures of one estimator (``params`` override its constants)."""
    fn = estimators.get(name, **params)
    base = {r.spec.name: _series(r.base, fn) for r in runs}
    out: dict[str, Any] = {"estimator": name, "params": params, "variants": [], "corr_va": {},
                           "corr_va_within": {}, "order": {}, "pose": {}, "segments": {}}
    res = []
    for vname in cfg.variants:
        v = perturb.variant(vname)
        pooled = [(r.spec.name, base[r.spec.name], _series(r.variants[vname], fn), r.spans())
                  for r in runs if vname in r.variants]
        res.append(reliability.compare_variant(vname, v.family, pooled))
    out["variants"] = [asdict(x) for x in res]
    out["families"] = reliability.family_summary(res)
    for r in runs:
        s = base[r.spec.name]
        out["corr_va"][r.spec.name] = reliability.abs_corr_va(s)
        labelled = [sp for sp in r.spans() if sp[2] != "window"]
        out["corr_va_within"][r.spec.name] = reliability.within_span_abs_corr_va(s, [(a, b) for a, b, _ in labelled])
        out["segments"][r.spec.name] = [[a, b, lab, *map(float, m)] for (a, b, lab), m in
                                        zip(labelled, s.segment_means([(a, b) for a, b, _ in labelled]))]
        if len(labelled) >= 2:
            out["order"][r.spec.name] = invariance.order_effect(r.base, labelled, fn)
        if cfg.pose and labelled:
            out["pose"][r.spec.name] = invariance.pose_effect(r.base, [(a, b) for a, b, _ in labelled], fn)
    if cfg.subject:
        from facelens.core.validation.subject import subject_checks

        out["subject"] = subject_checks(runs, fn, cfg.variants)
    return out


def run_harness(cfg: HarnessConfig, log: Log = print) -> dict[str, Any]:
    """Everything the report needs, as plain data (see module docstring)."""
    runs = track_all(cfg, log)
    result: dict[str, Any] = {"config": {"clips": [r.spec.rel for r in runs], "variants": list(cfg.variants),
                                         "max_seconds": cfg.max_seconds, "estimators": list(cfg.estimators)},
                              "estimators": {}}
    for name in cfg.estimators:
        log(f"estimator {name}")
        result["estimators"][name] = evaluate_estimator(runs, name, cfg)
    if cfg.diffusionfer is not None:
        from facelens.core.validation.accuracy import read_cached, score

        stored = read_cached(cfg.diffusionfer)
        if stored.estimator == "g":  # in-sample: G was trained on these labels (its CV is eval-affect's)
            result["accuracy_note"] = IN_SAMPLE_NOTE
        else:
            result["accuracy"] = {"diffusionfer (stored pipeline output)": asdict(score(stored))}
    result["runs"] = runs  # kept for sensitivity / plots; dropped before writing JSON
    return result
