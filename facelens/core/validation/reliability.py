"""Reliability under nuisance: how much valence/arousal move when only the recording conditions change.

For each variant of each clip the estimator runs on the original and on the perturbed frames; the
per-frame values are paired by time (identical instants for pixel perturbations; the nearest
original instant, at most 0.6 sampling steps away, for the sampling variants) and the segment means
(labelled spans and 2-s windows, valid frames only, at least 3 of them) are paired by segment.
A family's figure is its worst variant: ICC(2,1) (:func:`metrics.icc_2_1`) over all pairs of all
clips pooled, and the largest absolute shift. An ICC over fewer than :data:`MIN_ICC_PAIRS` pairs is
not given (NaN): a variant whose gates keep a handful of frames (e.g. a 3-px blur, every frame
but 4 flagged) would otherwise set the family's ICC from those few.

A segment mean can move for two reasons: the estimator reads the same frames differently, or the
quality gates keep other frames (a flag that flips under the perturbation). The *common-frame*
figures (:func:`usable_in_both`) take each segment's mean over the instants that both runs kept,
so the difference between the two figures is what the gates contribute.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from facelens.core.common import agreement as metrics

MIN_SEGMENT_FRAMES = 3
MIN_ICC_PAIRS = 10


@dataclass
class Series:
    """One estimator run: per-frame valence/arousal of one clip (variant)."""

    time_s: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray

    def segment_means(self, spans: Sequence[tuple[float, float]]) -> np.ndarray:
        """``(S, 2)`` mean valence/arousal of the valid frames in each span (NaN with < 3 frames)."""
        out = np.full((len(spans), 2), np.nan)
        ok = np.isfinite(self.valence) & np.isfinite(self.arousal)
        for i, (a, b) in enumerate(spans):
            m = ok & (self.time_s >= a) & (self.time_s < b)
            if m.sum() >= MIN_SEGMENT_FRAMES:
                out[i] = self.valence[m].mean(), self.arousal[m].mean()
        return out


def _nearest(base: Series, other: Series) -> tuple[np.ndarray, np.ndarray]:
    """For each ``other`` frame: the index of the nearest ``base`` frame, and whether it lies within
    0.6 sampling steps (both empty when either run has no frames)."""
    if base.time_s.size == 0 or other.time_s.size == 0:
        return np.empty(0, int), np.empty(0, bool)
    step = float(np.median(np.diff(base.time_s))) if base.time_s.size > 1 else 0.1
    j = np.clip(np.searchsorted(base.time_s, other.time_s), 0, base.time_s.size - 1)
    jm = np.clip(j - 1, 0, base.time_s.size - 1)
    pick = np.where(np.abs(base.time_s[jm] - other.time_s) < np.abs(base.time_s[j] - other.time_s), jm, j)
    return pick, np.abs(base.time_s[pick] - other.time_s) <= 0.6 * step


def paired_frames(base: Series, other: Series) -> tuple[np.ndarray, np.ndarray]:
    """``(M, 2)`` base and ``(M, 2)`` other per-frame values paired by nearest time."""
    pick, close = _nearest(base, other)
    if pick.size == 0:
        return np.empty((0, 2)), np.empty((0, 2))
    b = np.column_stack([base.valence[pick], base.arousal[pick]])[close]
    o = np.column_stack([other.valence, other.arousal])[close]
    return b, o


def _valid(s: Series) -> np.ndarray:
    return np.isfinite(s.valence) & np.isfinite(s.arousal)


def usable_in_both(base: Series, other: Series) -> tuple[Series, Series, int]:
    """Both runs restricted to the instants both kept, and how many paired instants one run kept
    and the other did not (the gates' flips).

    A frame stays when it is valid and so is the other run's nearest frame (within 0.6 of that
    run's sampling steps). Dropped frames become NaN (times unchanged), so segment means and spans
    work as before.
    """
    ok_b, ok_o = _valid(base), _valid(other)
    pick, close = _nearest(base, other)
    back, close_back = _nearest(other, base)
    keep_o = ok_o & close & (ok_b[pick] if pick.size else False)
    keep_b = ok_b & close_back & (ok_o[back] if back.size else False)
    flips = int(np.sum(close & (ok_o != (ok_b[pick] if pick.size else ok_o))))

    def only(s: Series, keep: np.ndarray) -> Series:
        return Series(s.time_s, np.where(keep, s.valence, np.nan), np.where(keep, s.arousal, np.nan))

    return only(base, keep_b), only(other, keep_o), flips


@dataclass
class Agreement:
    """Agreement of one variant (or family) with the original, for valence and arousal."""

    icc: tuple[float, float]
    max_shift: tuple[float, float]
    n: int


@dataclass
class VariantResult:
    """Per-frame and segment-mean agreement of one perturbation variant, pooled over clips."""

    name: str
    family: str
    frames: Agreement
    segments: Agreement
    worst_segment: str = ""  # clip and span with the largest shift
    per_clip_shift: dict[str, float] = field(default_factory=dict)
    common: Agreement | None = None  # segment means over the instants both runs kept
    flipped_frames: int = 0  # paired instants that one run kept and the other did not


def agreement(base: np.ndarray, other: np.ndarray) -> Agreement:
    """ICC(2,1) and largest shift for columns valence (0) and arousal (1) of paired tables."""
    iccs, shifts = [], []
    n = int(np.sum(np.all(np.isfinite(base), axis=1) & np.all(np.isfinite(other), axis=1))) if len(base) else 0
    for c in range(2):
        pair = np.column_stack([base[:, c], other[:, c]]) if len(base) else np.empty((0, 2))
        iccs.append(metrics.icc_2_1(pair) if n >= MIN_ICC_PAIRS else float("nan"))
        shifts.append(metrics.max_shift(base[:, c], other[:, c]) if len(base) else float("nan"))
    return Agreement((iccs[0], iccs[1]), (shifts[0], shifts[1]), n)


def compare_variant(name: str, family: str, runs: Sequence[tuple[str, Series, Series, list[tuple[float, float, str]]]]
                    ) -> VariantResult:
    """Pool ``(clip, base, variant, spans)`` runs into one :class:`VariantResult`."""
    fb, fo, sb, so, cb, co, labels = [], [], [], [], [], [], []
    per_clip: dict[str, float] = {}
    flipped = 0
    for clip, base, other, spans in runs:
        b, o = paired_frames(base, other)
        fb.append(b)
        fo.append(o)
        edges = [(a, e) for a, e, _ in spans]
        mb, mo = base.segment_means(edges), other.segment_means(edges)
        sb.append(mb)
        so.append(mo)
        both_b, both_o, n_flip = usable_in_both(base, other)
        cb.append(both_b.segment_means(edges))
        co.append(both_o.segment_means(edges))
        flipped += n_flip
        labels += [f"{clip} {lab} {a:.1f}-{e:.1f}s" for a, e, lab in spans]
        d = np.abs(mo - mb)
        per_clip[clip] = float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")
    cat = (lambda xs: np.vstack(xs) if xs else np.empty((0, 2)))
    seg_b, seg_o = cat(sb), cat(so)
    d = np.abs(seg_o - seg_b).max(axis=1) if len(seg_b) else np.empty(0)
    worst = labels[int(np.nanargmax(d))] if d.size and np.isfinite(d).any() else ""
    return VariantResult(name, family, agreement(cat(fb), cat(fo)), agreement(seg_b, seg_o), worst, per_clip,
                         agreement(cat(cb), cat(co)), flipped)


def family_summary(results: Sequence[VariantResult]) -> dict[str, dict[str, float]]:
    """Worst variant per family: min ICC and max shift of segment means and frames, V and A; where
    measured, the largest common-frame shift (``common_shift_v/a``) and the most gate flips of one
    variant (``flipped_frames``)."""
    out: dict[str, dict[str, float]] = {}
    for r in results:
        s = out.setdefault(r.family, {"seg_icc_v": 1.0, "seg_icc_a": 1.0, "seg_shift_v": 0.0, "seg_shift_a": 0.0,
                                      "frame_icc_v": 1.0, "frame_icc_a": 1.0, "frame_shift_v": 0.0,
                                      "frame_shift_a": 0.0})
        for key, agr in (("seg", r.segments), ("frame", r.frames)):
            for c, ax in enumerate("va"):
                s[f"{key}_icc_{ax}"] = float(np.nanmin([s[f"{key}_icc_{ax}"], agr.icc[c]]))
                s[f"{key}_shift_{ax}"] = float(np.nanmax([s[f"{key}_shift_{ax}"], agr.max_shift[c]]))
        if r.common is not None:
            for c, ax in enumerate("va"):
                s[f"common_shift_{ax}"] = float(np.nanmax([s.get(f"common_shift_{ax}", 0.0), r.common.max_shift[c]]))
            s["flipped_frames"] = max(int(s.get("flipped_frames", 0)), r.flipped_frames)
    return out


def abs_corr_va(series: Series) -> float:
    """Frame-wise |Pearson corr(valence, arousal)| of one clip (discriminant validity)."""
    r = metrics.pearson(series.valence, series.arousal)
    return abs(r) if np.isfinite(r) else float("nan")


def within_span_abs_corr_va(series: Series, spans: Sequence[tuple[float, float]]) -> float:
    """|Pearson corr(valence, arousal)| of the frames inside ``spans``, each span's own mean removed.

    The frame-wise figure mixes two things: how valence and arousal move *between* the labelled
    spans (a sad span followed by a happy one moves both the same way in the circumplex labels:
    a clip with two such spans and perfect estimates would score near 1) and how they move
    *within* a span. This one keeps only the second: whether arousal varies on its own while the
    expression label stays the same. NaN with fewer than 10 such frames.
    """
    ok = np.isfinite(series.valence) & np.isfinite(series.arousal)
    v_parts, a_parts = [], []
    for a, b in spans:
        m = ok & (series.time_s >= a) & (series.time_s < b)
        if m.sum() >= MIN_SEGMENT_FRAMES:
            v_parts.append(series.valence[m] - series.valence[m].mean())
            a_parts.append(series.arousal[m] - series.arousal[m].mean())
    if sum(len(p) for p in v_parts) < 10:
        return float("nan")
    r = metrics.pearson(np.concatenate(v_parts), np.concatenate(a_parts))
    return abs(r) if np.isfinite(r) else float("nan")
