"""A person's neutral face as a fixed anchor: from annotated neutral segments, or a robust whole-session estimate.

The streaming baseline (:mod:`facelens.core.affect.baseline`) is seeded by the first usable frame
and weighted by the *fused* neutral probability, which itself contains a bonus computed from that
baseline: it feeds on its own output, and what a session shows first shapes every later value (the
validity harness measured segment-order effects of 0.17-0.21 on segment means). An anchor is
computed once per session and then held fixed:

* :func:`anchor_from_spans`: the annotated neutral segments (the person's own resting face, as the
  clinician marked it), when they hold at least ``MIN_ANCHOR_S`` seconds of usable frames;
* :func:`anchor_robust`: otherwise, the usable frames that the *appearance model alone* (raw
  FER2013, never the fused posterior or the estimator's valence/arousal) calls most neutral: the
  upper third by neutral probability, at least ``MIN_ANCHOR_FRAMES``; without a posterior, all
  usable frames. Per measure: the median, and 1.4826 x the median absolute deviation (floored as
  the streaming baseline's spread) as the spread.

Both are set statistics of the session: the order of its segments cannot change them.
:func:`neutral_flags` names annotated neutral segments whose valence/arousal sit far from the
anchor's (0, 0): the appearance model reads this person's resting face as an emotion.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from facelens.core.affect.baseline import spread_floors

MIN_ANCHOR_S = 2.0
MIN_ANCHOR_FRAMES = 10
NEUTRAL_SHARE = 1.0 / 3.0
#: Mean |valence| or |arousal| of a neutral segment beyond which it is flagged (a tenth of the
#: [-1, 1] range more than the dead zone lets a still face move; a FaceLens convention).
NEUTRAL_FLAG = 0.15
MAD_TO_SD = 1.4826  # consistency constant of the MAD for a normal distribution


@dataclass(frozen=True)
class NeutralAnchor:
    """Fixed per-measure mean and spread of a person's neutral face, and where they came from."""

    mean: np.ndarray  # (K,)
    sd: np.ndarray  # (K,)
    source: str  # "annotated neutral segments" or "robust estimate (...)"
    n_frames: int


def _robust(x: np.ndarray, names: Sequence[str], source: str) -> NeutralAnchor:
    med = np.nanmedian(x, axis=0)
    mad = np.nanmedian(np.abs(x - med), axis=0) * MAD_TO_SD
    sd = np.maximum(np.where(np.isfinite(mad), mad, 0.0), spread_floors(names))
    return NeutralAnchor(med, sd, source, len(x))


def anchor_from_spans(expressions: np.ndarray, usable: np.ndarray, time_s: np.ndarray,
                      spans: Sequence[tuple[float, float]], names: Sequence[str]) -> NeutralAnchor | None:
    """Anchor from the usable frames inside ``spans`` (None with less than ``MIN_ANCHOR_S`` of them)."""
    t = np.asarray(time_s, np.float64)
    inside = np.zeros(t.shape, bool)
    for a, b in spans:
        inside |= (t >= a) & (t < b)
    ok = inside & np.asarray(usable, bool) & np.all(np.isfinite(expressions), axis=1)
    step = float(np.median(np.diff(t))) if t.size > 1 else 0.1
    if ok.sum() * step < MIN_ANCHOR_S or ok.sum() < 3:
        return None
    return _robust(np.asarray(expressions, np.float64)[ok], names, "annotated neutral segments")


def anchor_robust(expressions: np.ndarray, usable: np.ndarray, p_neutral: np.ndarray | None,
                  names: Sequence[str]) -> NeutralAnchor | None:
    """Anchor from the frames the appearance model finds most neutral (None without usable frames)."""
    x = np.asarray(expressions, np.float64)
    ok = np.asarray(usable, bool) & np.all(np.isfinite(x), axis=1)
    if ok.sum() < 3:
        return None
    if p_neutral is None or not np.isfinite(np.asarray(p_neutral)[ok]).any():
        return _robust(x[ok], names, "robust estimate (median of all usable frames)")
    p = np.where(ok & np.isfinite(p_neutral), p_neutral, -np.inf)
    k = max(MIN_ANCHOR_FRAMES, int(np.ceil(NEUTRAL_SHARE * ok.sum())))
    top = np.argsort(-p, kind="stable")[:min(k, int(ok.sum()))]
    return _robust(x[top], names, "robust estimate (frames the appearance model finds most neutral)")


def neutral_flags(time_s: np.ndarray, valence: np.ndarray, arousal: np.ndarray,
                  spans: Sequence[tuple[float, float]]) -> list[str]:
    """Plain-words flags for neutral segments whose mean valence or arousal exceeds ``NEUTRAL_FLAG``."""
    out = []
    t = np.asarray(time_s, np.float64)
    for a, b in spans:
        m = (t >= a) & (t < b) & np.isfinite(valence) & np.isfinite(arousal)
        if m.sum() < 3:
            continue
        v, ar = float(np.mean(valence[m])), float(np.mean(arousal[m]))
        if max(abs(v), abs(ar)) > NEUTRAL_FLAG:
            out.append(f"neutral segment {a:.1f}-{b:.1f} s reads as valence {v:+.2f}, arousal {ar:+.2f} "
                       "(far from the person's baseline: the appearance model sees an emotion in this face at rest)")
    return out
