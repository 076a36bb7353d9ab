"""A seeded simulated BD/MDD cohort whose statistics follow the seed paper's group values.

Nothing here is patient data. Each subject gets one session of valence/arousal (VA) series at
10 fps with a 15-s happy, sad and neutral segment (the paper's clip protocol, FACTS.md) in a
random order, written as a results file (``ResultsWriter``) and a segments CSV, plus
``manifest.csv`` in the format ``facelens cohort train`` reads and ``simulation.json`` with
every parameter. Sources and assumptions (each one marked) are in ``docs/dynamics.md``:

- happy/sad VA means and SDs per group: AsmV2L 2026 (FACTS.md, "Group VA statistics");
- neutral: the paper gives no numbers ("both slightly negative, BD more negative"), the values
  below are assumptions;
- the reported SD is split equally into between-subject and within-subject variance
  (ASSUMPTION: ICC 0.5, no published value);
- within a segment the series is an AR(1) process; higher inertia (lag-1 autocorrelation) in
  MDD follows the direction of Kuppens, Allen & Sheeber 2010; the values 0.80 / 0.90 at 10 fps
  are ASSUMPTIONS;
- the level follows a new segment's target with a 1-s time constant (ASSUMPTION), so responses
  have a latency;
- a few runs of unusable frames (no face, blur, ...) per session exercise the gap handling
  (ASSUMPTION: ~3 runs of 0.3–2 s per session).

``effect`` scales every group difference around the midpoint of the two groups: 1 gives the
values above, 0 gives identical groups (used to check that CV does not leak).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.annotation.segments import Segment, segments_to_csv
from facelens.core.common import published
from facelens.core.common.types import Quality

FPS = 10.0
SEGMENT_S = 15.0
LEAD_IN_S = 3.0
GAP_S = 3.0
TAU_S = 1.0
ICC = 0.5
# label -> (valence mean, valence SD, arousal mean, arousal SD) of frame-level estimates.
# happy and sad: the paper's figures (facelens.core.common.published); neutral: ASSUMPTION (no numbers given)
_NEUTRAL_ASSUMED = {"BD": (-0.08, 0.08, -0.05, 0.08), "MDD": (-0.04, 0.08, -0.05, 0.08)}
GROUP_VA: dict[str, dict[str, tuple[float, float, float, float]]] = {
    g: {**{label: published.GROUP_VA[label][g] for label in ("happy", "sad")}, "neutral": _NEUTRAL_ASSUMED[g]}
    for g in ("BD", "MDD")
}
AR1: dict[str, float] = {"BD": 0.85, "MDD": 0.88}  # ASSUMPTION (direction: Kuppens et al. 2010)
AR1_SUBJECT_SD = 0.05  # between-subject SD of the AR(1) coefficient (ASSUMPTION)
#: Loading of every subject-level VA mean on one shared "expressivity" factor, in the direction
#: in which BD differs from MDD (ASSUMPTION: chosen so that the VA means alone separate the groups
#: about as well as the paper's AUC 0.94; with independent features they would separate almost
#: perfectly, which no published cohort shows).
EXPRESSIVITY_LOADING = 0.6
REST_LEVEL = (0.0, 0.0)  # VA between segments (ASSUMPTION)
DROPOUT_RUNS = 3.0  # mean runs of unusable frames per session (Poisson; ASSUMPTION)
_BAD = (Quality.NO_FACE, Quality.LOW_CONFIDENCE, Quality.MOTION_BLUR, Quality.EXTREME_POSE)


def group_parameters(group: str, effect: float) -> dict[str, Any]:
    """Parameters of ``group`` with every BD–MDD difference scaled by ``effect``."""
    def scaled(bd: float, mdd: float) -> float:
        mid = 0.5 * (bd + mdd)
        return mid + effect * ((bd if group == "BD" else mdd) - mid)

    va = {lab: tuple(scaled(b, m) for b, m in zip(GROUP_VA["BD"][lab], GROUP_VA["MDD"][lab]))
          for lab in GROUP_VA["BD"]}
    return {"va": va, "ar1": scaled(AR1["BD"], AR1["MDD"])}


def _direction(label: str) -> tuple[float, float]:
    """Sign of the BD − MDD difference of the label's valence and arousal means (0: none)."""
    bd, mdd = GROUP_VA["BD"][label], GROUP_VA["MDD"][label]
    return float(np.sign(bd[0] - mdd[0])), float(np.sign(bd[2] - mdd[2]))


def _subject_deviation(rng: np.random.Generator, expressivity: float, sign: float) -> float:
    """Standard-normal subject deviation loading ``EXPRESSIVITY_LOADING`` on the shared factor."""
    if sign == 0:
        return float(rng.normal())
    r = EXPRESSIVITY_LOADING
    return float(r * sign * expressivity + np.sqrt(1 - r * r) * rng.normal())


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """Stationary AR(1) series with lag-1 autocorrelation ``phi`` and marginal SD ``sd``."""
    e = rng.normal(0.0, sd * np.sqrt(1.0 - phi * phi), n)
    x = np.empty(n)
    x[0] = rng.normal(0.0, sd)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    return x


def simulate_session(rng: np.random.Generator, group: str, effect: float = 1.0) -> dict[str, Any]:
    """One simulated session: per-frame columns and its segments.

    Returns
    -------
    dict
        ``time_s, valence, arousal, quality`` arrays and ``segments`` (list of Segment).
    """
    par = group_parameters(group, effect)
    expressivity = rng.normal()
    phi = float(np.clip(rng.normal(par["ar1"], AR1_SUBJECT_SD), 0.5, 0.97))
    order = list(rng.permutation(["happy", "sad", "neutral"]))
    n = round((LEAD_IN_S + 3 * SEGMENT_S + 3 * GAP_S) * FPS)
    t = np.arange(n) / FPS
    target_v = np.full(n, REST_LEVEL[0])
    target_a = np.full(n, REST_LEVEL[1])
    noise_sd = np.zeros((n, 2))
    segments: list[Segment] = []
    start = LEAD_IN_S
    for lab in order:
        vm, vs, am, as_ = par["va"][lab]
        inside = (t >= start) & (t < start + SEGMENT_S)
        # Subject's own level for this label: the between-subject share of the reported SD,
        # partly shared across labels through the expressivity factor.
        sign_v, sign_a = _direction(str(lab))
        target_v[inside] = vm + vs * np.sqrt(ICC) * _subject_deviation(rng, expressivity, sign_v)
        target_a[inside] = am + as_ * np.sqrt(ICC) * _subject_deviation(rng, expressivity, sign_a)
        noise_sd[inside] = (vs * np.sqrt(1 - ICC), as_ * np.sqrt(1 - ICC))
        segments.append(Segment(round(start, 3), round(start + SEGMENT_S, 3), str(lab), scenario="elicitation video",
                                note="simulated", author="facelens cohort simulate", id=f"seg{len(segments)}"))
        start += SEGMENT_S + GAP_S
    noise_sd[noise_sd[:, 0] == 0] = (0.05, 0.05)  # rest periods: small fluctuation (ASSUMPTION)
    alpha = 1.0 - np.exp(-1.0 / (FPS * TAU_S))
    level_v, level_a = np.empty(n), np.empty(n)
    lv, la = REST_LEVEL
    for i in range(n):
        lv += alpha * (target_v[i] - lv)
        la += alpha * (target_a[i] - la)
        level_v[i], level_a[i] = lv, la
    valence = level_v + _ar1(rng, n, phi, 1.0) * noise_sd[:, 0]
    arousal = level_a + _ar1(rng, n, phi, 1.0) * noise_sd[:, 1]
    quality = np.full(n, int(Quality.OK), dtype=np.uint8)
    for _ in range(rng.poisson(DROPOUT_RUNS)):
        a = int(rng.integers(0, n))
        quality[a:a + int(rng.integers(3, 21))] = int(_BAD[int(rng.integers(0, len(_BAD)))])
    bad = quality != Quality.OK
    valence = np.clip(valence, -1, 1)
    arousal = np.clip(arousal, -1, 1)
    valence[bad] = np.nan
    arousal[bad] = np.nan
    return {"time_s": t, "valence": valence, "arousal": arousal, "quality": quality, "segments": segments}


def _expression_names() -> list[str]:
    try:  # the geometry stage's names, so that simulated files look like real ones
        from facelens.core.face.geometry import EXPRESSION_NAMES

        return list(EXPRESSION_NAMES)
    except ImportError:
        return ["none"]


def write_session(path: Path, session: dict[str, Any], subject_id: str) -> Path:
    """Write one simulated session as a results file (expressions and mesh left empty: NaN)."""
    from facelens import __version__
    from facelens.core.results import ResultsWriter

    t = session["time_s"]
    digest = hashlib.sha256(np.ascontiguousarray(np.nan_to_num(session["valence"], nan=9.0)).tobytes()).hexdigest()
    meta = {"video_path": f"simulated:{subject_id}", "video_sha256": digest,
            "duration_s": float(t[-1] + 1 / FPS), "native_fps": 30.0, "width": 0, "height": 0,
            "rotation_deg": 0, "params": {"fps": FPS, "simulated": True},
            "models": [{"id": "facelens-simulation", "version": __version__}], "simulated": True}
    usable = session["quality"] == Quality.OK
    writer = ResultsWriter(path, meta, expression_names=_expression_names())
    try:
        writer.append({"time_s": t, "frame_index": np.round(t * 30).astype(np.int64),
                       "quality": session["quality"], "n_faces": usable.astype(np.uint8),
                       "confidence": np.where(usable, 0.95, 0.0),
                       "valence": session["valence"], "arousal": session["arousal"]})
        return writer.finish()
    finally:
        writer.close()


def simulate_cohort(out_dir: str | os.PathLike[str], n_bd: int = 130, n_mdd: int = 132, seed: int = 0,
                    effect: float = 1.0) -> Path:
    """Write a simulated cohort into ``out_dir``; returns the path of ``manifest.csv``.

    Subjects get neutral ids (``sim0001`` ...) in a seeded random order of diagnoses.
    """
    from facelens import __version__
    from facelens.core.common.atomic import atomic_write_text

    if n_bd < 1 or n_mdd < 1:
        raise ValueError("need at least one subject per group")
    out = Path(out_dir)
    (out / "sessions").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    groups = np.array(["BD"] * n_bd + ["MDD"] * n_mdd)
    groups = groups[rng.permutation(len(groups))]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["subject_id", "diagnosis", "results", "segments"])
    for k, g in enumerate(groups, start=1):
        sid = f"sim{k:04d}"
        session = simulate_session(rng, str(g), effect)
        write_session(out / "sessions" / f"{sid}.h5", session, sid)
        atomic_write_text(out / "sessions" / f"{sid}.segments.csv", segments_to_csv(session["segments"]))
        w.writerow([sid, g, f"sessions/{sid}.h5", f"sessions/{sid}.segments.csv"])
    params = {"generator": "facelens cohort simulate", "facelens": __version__, "seed": seed,
              "n_bd": n_bd, "n_mdd": n_mdd, "effect": effect, "fps": FPS, "segment_s": SEGMENT_S,
              "group_va": GROUP_VA, "ar1": AR1, "icc": ICC, "tau_s": TAU_S, "dropout_runs": DROPOUT_RUNS,
              "sources": "happy/sad VA: AsmV2L 2026 group statistics; inertia direction: Kuppens et al. 2010; "
                         "neutral values, ICC, AR(1) magnitudes, tau and dropouts: assumptions (docs/dynamics.md)"}
    atomic_write_text(out / "simulation.json", json.dumps(params, indent=1))
    manifest = out / "manifest.csv"
    atomic_write_text(manifest, buf.getvalue())  # last: a manifest means the cohort is complete
    return manifest
