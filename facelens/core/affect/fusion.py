"""Fused emotion posterior: the FER2013 posterior plus FACS-prototype evidence from the face geometry.

The FER2013 mini-Xception sees a 64x64 gray crop; it is weak on anger, disgust and fear and misses
posed frowns (docs/affect.md). The landmark-based expression measures (``geometry.EXPRESSION_NAMES``,
docs/expressions.md) see those movements directly. We score each basic emotion by how much of its
EMFACS prototype (Friesen & Ekman 1983; Ekman, Friesen & Hager 2002) is present, relative to the
person's neutral baseline (:class:`facelens.core.affect.baseline.NeutralBaseline`), and add the score
to the FER log-posterior:

    log p_fused(k) = log max(p_fer(k), 1e-4) + beta * trust * s(k) + const

* ``h(z) = clip(z / Z_FULL, 0, 1)``: an action unit counts as fully present at ``Z_FULL`` = 3 SD above
  the neutral baseline (the baseline's spread, never below the mesh-noise floor).
* ``a(k)`` = mean of h over the prototype's action units (soft AND), ``c(k)`` = mean of h over
  action units that contradict class k (e.g. a smile contradicts sadness).
* ``s(k) = a(k) - CONTRA * c(k)`` for the six emotions; neutral: ``s = NEUTRAL_MARGIN - max_k a(k)``.
* ``trust`` (0..1) is the baseline's maturity, so a still image or the first second of a session is
  the FER posterior unchanged.

Prototypes, with the measures that stand for each action unit (proxies, docs/expressions.md):

=========  ==============================  =====================================================
class      EMFACS prototype                measures used (AU)
=========  ==============================  =====================================================
happy      AU6+12                          cheek_raise (6); lip_corner_pull_l/r (12)
sad        AU1+4+15                        inner_brow_raise_l/r (1); lip_corner_depress (15)
surprise   AU1+2+5B+26                     inner (1), outer_brow_raise (2), upper_lid_raise (5),
                                           jaw_drop/mouth_open (26/25)
fear       AU1+2+4+5+7+20+26               inner (1), outer (2), upper_lid_raise (5),
                                           lip_stretch (20), jaw_drop/mouth_open (26)
angry      AU4+5+7+23                      brow_lower (4), eye_closure (7, lid narrowing), lip_press (23/24)
disgust    AU9+15+16                       nose_wrinkle (9), upper_lip_raise (10, in EMFACS variants),
                                           lip_corner_depress (15)
=========  ==============================  =====================================================

Left out, because our proxies cannot show them together with the others: AU4 in sadness and fear
(``brow_lower`` falls when the inner brows rise, AU1), AU5 in anger (one aperture measure cannot
show AU5 and AU7 at once), AU16 (no lower-lip measure).

The prototypes and contradictions follow the definitions above. The three weights were chosen on
the synthetic demo session only (``facelens.core.demo.session``, scripted smile/sad/surprise/neutral spans),
by a grid over ``Z_FULL`` in {2, 3, 4}, ``BETA`` in {3, 4, 6}, ``NEUTRAL_MARGIN`` in {0.1, 0.25}
(best demo accuracy 486/520 at several settings; we took 3 / 6 / 0.25). ``BETA`` = 6: a fully
present prototype multiplies the odds by e^6. The real recordings (``benchmarks/affect_eval.py``)
were not used to choose anything; ``CONTRA`` = 0.5 was set a priori.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Z_FULL = 3.0
BETA = 6.0
CONTRA = 0.5
NEUTRAL_MARGIN = 0.25
P_FLOOR = 1e-4

# class -> action units, each a tuple of measure names averaged into one z-score
_AU = {
    "AU1": ("inner_brow_raise_l", "inner_brow_raise_r"),
    "AU2": ("outer_brow_raise_l", "outer_brow_raise_r"),
    "AU4": ("brow_lower",),
    "AU5": ("upper_lid_raise_l", "upper_lid_raise_r"),
    "AU6": ("cheek_raise",),
    "AU7": ("eye_closure",),
    "AU9": ("nose_wrinkle",),
    "AU10": ("upper_lip_raise",),
    "AU12": ("lip_corner_pull_l", "lip_corner_pull_r"),
    "AU15": ("lip_corner_depress",),
    "AU20": ("lip_stretch",),
    "AU23": ("lip_press",),
    "AU26": ("jaw_drop", "mouth_open"),
}
PROTOTYPES: dict[str, tuple[str, ...]] = {
    "happy": ("AU6", "AU12"),
    "sad": ("AU1", "AU15"),
    "surprise": ("AU1", "AU2", "AU5", "AU26"),
    "fear": ("AU1", "AU2", "AU5", "AU20", "AU26"),
    "angry": ("AU4", "AU7", "AU23"),
    "disgust": ("AU9", "AU10", "AU15"),
}
# action units whose presence argues against a class
CONTRADICTIONS: dict[str, tuple[str, ...]] = {
    "happy": ("AU4", "AU15"),
    "sad": ("AU12",),
    "surprise": ("AU4",),
    "fear": ("AU12",),
    "angry": ("AU12", "AU1"),
    "disgust": ("AU12",),
}


class PrototypeScorer:
    """Turns one frame's expression z-scores into per-class geometric scores ``s(k)``.

    Parameters
    ----------
    labels
        Emotion class order of the posterior (e.g. ``FER_LABELS``).
    expression_names
        Names of the expression columns; action units whose measures are missing are left out.
    """

    def __init__(self, labels: Sequence[str], expression_names: Sequence[str]) -> None:
        self.labels = list(labels)
        index = {n: i for i, n in enumerate(expression_names)}
        au_names = [au for au, measures in _AU.items() if all(m in index for m in measures)]
        self._au_index = {au: i for i, au in enumerate(au_names)}
        # (A, K) averaging matrix: AU z = mean of its measures' z
        self._avg = np.zeros((len(au_names), len(expression_names)))
        for au, i in self._au_index.items():
            cols = [index[m] for m in _AU[au]]
            self._avg[i, cols] = 1.0 / len(cols)
        n_cls = len(self.labels)
        self._proto = np.zeros((n_cls, len(au_names)))
        self._contra = np.zeros((n_cls, len(au_names)))
        self._emotion_rows = np.zeros(n_cls, dtype=bool)
        for k, lab in enumerate(self.labels):
            for mat, table in ((self._proto, PROTOTYPES), (self._contra, CONTRADICTIONS)):
                aus = [au for au in table.get(lab, ()) if au in self._au_index]
                for au in aus:
                    mat[k, self._au_index[au]] = 1.0 / len(aus)
            self._emotion_rows[k] = lab in PROTOTYPES and self._proto[k].any()
        self._neutral = self.labels.index("neutral") if "neutral" in self.labels else -1
        self.usable = bool(self._emotion_rows.any())

    def scores(self, z: np.ndarray) -> np.ndarray:
        """Scores (K,) for one frame's z-scores (K measures); zeros when no prototype is usable."""
        out = np.zeros(len(self.labels))
        if not self.usable:
            return out
        h = np.clip((self._avg @ z) / Z_FULL, 0.0, 1.0)
        act = self._proto @ h
        out[self._emotion_rows] = (act - CONTRA * (self._contra @ h))[self._emotion_rows]
        if self._neutral >= 0:
            out[self._neutral] = NEUTRAL_MARGIN - act[self._emotion_rows].max()
        return out


def fuse(p: np.ndarray, scores: np.ndarray, trust: float, beta: float = BETA) -> np.ndarray:
    """Fused posterior (K,) from a posterior ``p`` (K,) and geometric ``scores`` (K,)."""
    logit = np.log(np.maximum(np.asarray(p, dtype=np.float64), P_FLOOR)) + beta * trust * scores
    logit -= logit.max()
    e = np.exp(logit)
    return e / e.sum()
