"""Top-emotion accuracy of FER2013 alone vs the fused estimator on labelled time spans (Qt-free).

Used by ``benchmarks/affect_eval.py`` and the tests. A results file analysed with fusion switched
off (``AffectStage.fuse_default = False``) stores the raw FER2013 posterior as ``emotions``; the fused
posterior is then recomputed offline with :meth:`CircumplexVA.estimate_fused` from the stored
expression measures: the same computation the stage runs live (``tests/test_emotion.py`` checks the
two agree).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# (file, start_s, end_s, accepted classes) from MANIFEST.tsv's descriptions of the posed clips.
MANIFEST_SPANS: list[tuple[str, float, float, frozenset[str]]] = [
    ("images/pyfeat_happy_single_face.jpg", 0.0, 1.0, frozenset({"happy"})),
    ("videos/pyfeat_single_face.mp4", 0.0, 0.6, frozenset({"neutral"})),
    ("videos/pyfeat_single_face.mp4", 0.9, 2.43, frozenset({"happy"})),
    ("videos/pyfeat_WolfgangLanger_Pexels.mp4", 0.0, 9.0, frozenset({"sad"})),
    ("videos/pyfeat_WolfgangLanger_Pexels.mp4", 10.0, 19.7, frozenset({"happy"})),
    ("videos/liveportrait_d3.mp4", 2.0, 3.0, frozenset({"neutral", "sad"})),
    ("videos/liveportrait_d3.mp4", 4.0, 5.0, frozenset({"angry", "disgust"})),
    ("videos/liveportrait_d3.mp4", 6.0, 9.0, frozenset({"neutral"})),
    ("videos/liveportrait_d3.mp4", 10.0, 11.8, frozenset({"surprise"})),
]
# demo script expression -> FER class
DEMO_CLASSES = {"neutral": "neutral", "smile": "happy", "sad": "sad", "surprise": "surprise"}


@dataclass
class Tally:
    """Correct/total counts per (source, span label)."""

    rows: list[tuple[str, str, int, int, int]] = field(default_factory=list)  # name, label, n, fer, fused

    def add(self, name: str, label: str, fer_top: Iterable[str], fused_top: Iterable[str],
            accepted: frozenset[str]) -> None:
        f, g = list(fer_top), list(fused_top)
        self.rows.append((name, label, len(f), sum(c in accepted for c in f), sum(c in accepted for c in g)))

    def totals(self, prefix: str = "") -> tuple[int, int, int]:
        sel = [r for r in self.rows if r[0].startswith(prefix)]
        return sum(r[2] for r in sel), sum(r[3] for r in sel), sum(r[4] for r in sel)

    def per_class(self, prefix: str = "") -> dict[str, tuple[int, int, int]]:
        out: dict[str, list[int]] = {}
        for name, label, n, f, g in self.rows:
            if name.startswith(prefix):
                acc = out.setdefault(label, [0, 0, 0])
                acc[0] += n
                acc[1] += f
                acc[2] += g
        return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def fused_from_file(h5: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(time_s, raw posterior, fused posterior, labels) of a results file whose ``emotions`` are raw."""
    from facelens.core.affect.va import CircumplexVA
    from facelens.core.results import SessionResults

    with SessionResults.open(h5) as r:
        if r.emotions is None:
            raise ValueError(f"{h5.name} has no emotions")
        raw = np.asarray(r.emotions, dtype=np.float32)
        est = CircumplexVA(labels=tuple(r.emotion_labels))
        fused, _, _ = est.estimate_fused(raw, r.expressions, r.expression_names, r.time_s, r.usable)
        return np.asarray(r.time_s), raw, fused, list(r.emotion_labels)


def _tops(p: np.ndarray, labels: list[str]) -> list[str]:
    ok = np.all(np.isfinite(p), axis=1)
    return [labels[i] for i in np.argmax(np.where(ok[:, None], p, 0), axis=1)[ok]]


def score_spans(tally: Tally, name: str, h5: Path, spans: Iterable[tuple[float, float, frozenset[str], str]]) -> None:
    """Add the spans ``(start_s, end_s, accepted, label)`` of one raw-posterior results file."""
    t, raw, fused, labels = fused_from_file(h5)
    for t0, t1, accepted, label in spans:
        sel = (t >= t0) & (t < t1) & np.all(np.isfinite(raw), axis=1)
        tally.add(name, label, _tops(raw[sel], labels), _tops(fused[sel], labels), accepted)
