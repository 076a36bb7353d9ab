"""Valence/arousal estimators (pluggable; Qt-free, numpy only).

The default, :class:`CircumplexVA`, places the emotion posterior on the circumplex (Russell 1980),
adds geometric cues from the expression measures of :mod:`facelens.core.face.geometry` taken relative to
the person's slow neutral baseline (:mod:`facelens.core.affect.baseline`), and smooths lightly in
time. With :meth:`CircumplexVA.estimate_fused` it also fuses the posterior with FACS-prototype
evidence first (:mod:`facelens.core.affect.fusion`).

Emotion coordinates: Warriner, Kuperman & Brysbaert (2013), "Norms of valence, arousal, and dominance
for 13,915 English lemmas", Behavior Research Methods 45, 1191-1207: the all-rater means
(``V.Mean.Sum``, ``A.Mean.Sum``, 1-9 scales) of the word naming each class, read from the public copy
``Ratings_Warriner_et_al.csv`` in github.com/JULIELab/XANEW (commit 8b6e40a1), mapped to [-1, 1] by
``(x - 5) / 4``. Neutral is the centre of both scales by construction (no word).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from facelens.core.affect.anchor import NeutralAnchor
from facelens.core.affect.baseline import NeutralBaseline, spread_floors
from facelens.core.affect.fusion import PrototypeScorer, fuse

# (valence, arousal) on the 1-9 scales; word and row number in Ratings_Warriner_et_al.csv in brackets.
WARRINER_NORMS: dict[str, tuple[float, float]] = {
    "angry": (2.53, 6.20),  # "angry", row 423
    "disgust": (2.68, 4.89),  # "disgusted", row 3570
    "fear": (2.25, 5.12),  # "afraid", row 221
    "happy": (8.47, 6.05),  # "happy", row 5596
    "sad": (2.10, 3.49),  # "sad", row 10583
    "surprise": (6.57, 5.95),  # "surprised", row 12139
    "neutral": (5.00, 5.00),  # scale centre (no word)
}


def circumplex_coordinates(labels: Sequence[str]) -> np.ndarray:
    """(K, 2) valence/arousal in [-1, 1] for emotion ``labels`` (from :data:`WARRINER_NORMS`)."""
    return np.array([[(v - 5.0) / 4.0, (a - 5.0) / 4.0] for v, a in (WARRINER_NORMS[lab] for lab in labels)])


# Geometric cues: name in geometry.EXPRESSION_NAMES -> sign of its effect on (valence, arousal).
# Smiles (AU12) and cheek raise (AU6) mark positive affect; brow lowering (AU4) and lip-corner
# depression (AU15) negative affect; upper-lid raise (AU5) and mouth/jaw opening (AU25-27) mark high
# arousal (FACS, Ekman & Friesen 1978; their use as valence/arousal cues: Mehu & Scherer 2015).
VALENCE_CUES = {"lip_corner_pull_l": 1.0, "lip_corner_pull_r": 1.0, "cheek_raise": 1.0,
                "brow_lower": -1.0, "lip_corner_depress": -1.0}
AROUSAL_CUES = {"upper_lid_raise_l": 1.0, "upper_lid_raise_r": 1.0, "upper_lid_raise": 1.0,
                "mouth_open": 1.0, "jaw_drop": 1.0}
#: A frame whose eye_closure lies this many baseline spreads above the neutral face is a blink (or a
#: squeeze): its lid cues and the movement step into and out of it say nothing about arousal. On a
#: still face blinks raised arousal MSSD about fourfold (docs/validity.md); 3 SD: a FaceLens convention.
BLINK_Z = 3.0


def _squash(z: list[float]) -> float:
    """Combine signed z-scores into (-1, 1).

    The sum over sqrt(n) is a z-score again; a dead zone of 0.5 SD keeps a still face's measurement
    noise from moving valence/arousal, and tanh(z / 1.5) maps about 3 SD to 0.96.
    """
    if not z:
        return 0.0
    zc = float(np.sum(z) / np.sqrt(len(z)))
    zc = np.sign(zc) * max(abs(zc) - 0.5, 0.0)
    return float(np.tanh(zc / 1.5))


@runtime_checkable
class ValenceArousalEstimator(Protocol):
    """Anything that turns a batch of per-frame measures into valence and arousal.

    Estimators may keep state between batches (smoothing), so one instance serves one session, in
    time order; :meth:`reset` starts a new session.
    """

    name: str

    def reset(self) -> None:
        """Forget the state of the previous session."""

    def estimate(self, emotions: np.ndarray | None, expressions: np.ndarray, expression_names: Sequence[str],
                 times: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(valence, arousal), each (B,) in [-1, 1], NaN where ``usable`` is False."""


@dataclass
class _MovementEnergy:
    """Running z-score of the frame-to-frame movement of the expression vector (a short-term cue).

    Movement is relative by nature (a person who moves a lot), so here a running mean/variance over
    the last <= 60 s (600 frames at 10 fps) is the right reference; it is trusted after 1 s.
    """

    horizon: int = 600
    warmup: int = 10
    n: int = 0
    mean: float = 0.0
    var: float = 0.0

    def zscore_and_update(self, x: float) -> float:
        if not np.isfinite(x):
            return 0.0
        if self.n == 0:
            self.mean = x
        z = 0.0
        if self.n >= self.warmup:
            sd = np.sqrt(max(self.var, 1e-4 * (abs(self.mean) + 1e-3) ** 2 + 1e-12))
            z = (x - self.mean) / sd
        self.n += 1
        a = max(1.0 / self.n, 1.0 / self.horizon)
        d = x - self.mean
        self.mean += a * d
        self.var = (1 - a) * (self.var + a * d * d)
        return float(z)


class _ExponentialSmoother:
    """First-order smoothing in time (time constant ``tau_s``), restarted after a gap of ``gap_s``.

    The subclass provides ``tau_s``, ``gap_s`` and the state ``_state`` / ``_last_t`` (annotated
    here for the type checker only: the subclasses are dataclasses and must not inherit them as fields).
    """

    if TYPE_CHECKING:
        tau_s: float
        gap_s: float
        _state: np.ndarray | None
        _last_t: float

    def _smooth(self, t: float, raw: np.ndarray) -> np.ndarray:
        dt = t - self._last_t
        if self._state is None or not np.isfinite(dt) or dt > self.gap_s or dt < 0:
            self._state = raw
        else:
            self._state = self._state + (1.0 - np.exp(-dt / self.tau_s)) * (raw - self._state)
        self._last_t = t
        return self._state


@dataclass
class CircumplexVA(_ExponentialSmoother):
    """Emotion posterior on the circumplex + geometric expression cues, lightly smoothed.

    Parameters
    ----------
    labels
        Emotion class names of the posterior columns (keys of :data:`WARRINER_NORMS`).
    emotion_weight
        Share of the emotion term; the rest goes to the geometric cues (all of it when no posterior).
    tau_s
        Time constant of the exponential smoothing (seconds).
    gap_s
        A gap longer than this (or unusable frames) restarts the smoothing.
    baseline_tau_s
        Time constant of the neutral baseline (:class:`NeutralBaseline`).
    anchor
        A fixed neutral face (:mod:`facelens.core.affect.anchor`): when given, the baseline is this
        anchor with full trust and is never updated (no seeding by the first frame, no feedback
        from the fused posterior).
    exclude_blinks
        Leave the lid cues and the movement step out of arousal on blink frames (``BLINK_Z``).

    Notes
    -----
    State (baseline, movement statistics, smoothing) carries across calls in time order. Replaying
    stored frames through :meth:`estimate` with the *stored* (fused) emotions rebuilds exactly the
    state that :meth:`estimate_fused` left, because the baseline is updated from the posterior that
    is stored, rounded to float32 as stored.
    """

    labels: Sequence[str] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    emotion_weight: float = 0.7
    tau_s: float = 0.3
    gap_s: float = 1.0
    baseline_tau_s: float = 120.0
    anchor: NeutralAnchor | None = None
    exclude_blinks: bool = True
    name: str = "circumplex-warriner+geometry"
    _coords: np.ndarray = field(init=False, repr=False)
    _base: NeutralBaseline | None = field(init=False, default=None, repr=False)
    _names: tuple[str, ...] | None = field(init=False, default=None, repr=False)
    _scorer: PrototypeScorer | None = field(init=False, default=None, repr=False)
    _cue_v: tuple[np.ndarray, np.ndarray] | None = field(init=False, default=None, repr=False)
    _cue_a: tuple[np.ndarray, np.ndarray] | None = field(init=False, default=None, repr=False)
    _prev_expr: np.ndarray | None = field(init=False, default=None, repr=False)
    _blink: int = field(init=False, default=-1, repr=False)
    _lid_cue: np.ndarray = field(init=False, default_factory=lambda: np.zeros(0, bool), repr=False)
    _energy: _MovementEnergy = field(init=False, repr=False)
    _last_t: float = field(init=False, default=float("nan"), repr=False)
    _state: np.ndarray | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self._coords = circumplex_coordinates(self.labels)
        self._neutral = list(self.labels).index("neutral") if "neutral" in self.labels else -1
        self.reset()

    def reset(self) -> None:
        self._base, self._names, self._scorer = None, None, None
        self._energy = _MovementEnergy()
        self._prev_expr, self._state, self._last_t = None, None, float("nan")

    @property
    def baseline(self) -> NeutralBaseline | None:
        """The neutral baseline of the current session (None before the first usable frame)."""
        return self._base

    def _setup(self, names: Sequence[str]) -> None:
        names = tuple(names)
        if names == self._names:
            return
        if self._base is not None:  # a different layout mid-session: start the person afresh
            self._base = None
        self._names = names
        self._base = NeutralBaseline(floor=spread_floors(names), tau_s=self.baseline_tau_s)
        if self.anchor is not None and len(self.anchor.mean) == len(names):
            self._base.fix(self.anchor.mean, self.anchor.sd)
        self._scorer = PrototypeScorer(self.labels, names)
        index = {n: i for i, n in enumerate(names)}
        self._blink = index.get("eye_closure", -1) if self.exclude_blinks else -1

        def cues(table: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
            used = [(index[n], s) for n, s in table.items() if n in index]
            return np.array([i for i, _ in used], int), np.array([s for _, s in used], float)

        self._cue_v, self._cue_a = cues(VALENCE_CUES), cues(AROUSAL_CUES)
        self._lid_cue = np.array(["lid" in names[i] for i in self._cue_a[0]], bool)

    def _geometric(self, expr: np.ndarray, z: np.ndarray, trust: float) -> tuple[float, float]:
        """Geometric (valence, arousal) of one usable frame, each in (-1, 1)."""
        assert self._cue_v is not None and self._cue_a is not None
        zt = z * trust
        zv = list(zt[self._cue_v[0]] * self._cue_v[1])
        blink = self._blink >= 0 and bool(zt[self._blink] > BLINK_Z)
        sel = ~self._lid_cue if blink else np.ones(len(self._cue_a[0]), bool)
        za = list(zt[self._cue_a[0][sel]] * self._cue_a[1][sel])
        # movement energy: mean absolute change of the expression vector since the previous frame
        # (none across a gap or an unusable frame, nor into or out of a blink)
        if self._prev_expr is not None and expr.size and not blink:
            d = np.abs(expr - self._prev_expr)
            step = float(np.nanmean(d)) if np.isfinite(d).any() else float("nan")
            za.append(self._energy.zscore_and_update(step))
        self._prev_expr = None if blink else expr
        return _squash(zv), _squash(za)

    def _run(self, emotions: np.ndarray | None, expressions: np.ndarray, names: Sequence[str],
             times: np.ndarray, usable: np.ndarray, fuse_geometry: bool) -> tuple[np.ndarray, np.ndarray]:
        b = len(times)
        out = np.full((b, 2), np.nan)
        posterior = None if emotions is None else np.full((b, len(self.labels)), np.nan, np.float32)
        if b == 0:
            return out, posterior if posterior is not None else np.zeros((0, len(self.labels)), np.float32)
        expressions = np.asarray(expressions, dtype=np.float64).reshape(b, -1)
        self._setup(names)
        base, scorer = self._base, self._scorer
        assert base is not None and scorer is not None
        for i in range(b):
            if not usable[i]:
                self._state = None  # smoothing must not bridge across missing faces
                self._prev_expr = None  # nor the movement step
                continue
            if np.isfinite(self._last_t) and float(times[i]) - self._last_t > self.gap_s:
                # a gap in time (a pause, a cut): no movement step across it, and the movement
                # reference starts afresh (what came before the pause is not this stretch's "usual")
                self._prev_expr, self._energy = None, _MovementEnergy()
            x = expressions[i]
            z = base.zscores(x)
            trust = base.trust
            p = None if emotions is None else np.asarray(emotions[i], dtype=np.float64)
            if p is not None and not np.all(np.isfinite(p)):
                p = None
            if p is not None and fuse_geometry:
                # rounded as stored, so that replaying the stored posterior rebuilds the same state
                p = fuse(p, scorer.scores(z), trust).astype(np.float32).astype(np.float64)
            if p is not None and posterior is not None:
                posterior[i] = p
            gv, ga = self._geometric(x, z, trust)
            if p is not None:
                w = self.emotion_weight
                ev, ea = p @ self._coords
                raw = np.array([w * ev + (1 - w) * gv, w * ea + (1 - w) * ga])
            else:
                raw = np.array([gv, ga])
            t = float(times[i])
            out[i] = np.clip(self._smooth(t, raw), -1.0, 1.0)
            p_neutral = None if p is None or self._neutral < 0 else float(p[self._neutral])
            if self.anchor is None:
                base.update(x, t, p_neutral, z)
        return out, posterior if posterior is not None else np.zeros((b, len(self.labels)), np.float32)

    def estimate(self, emotions: np.ndarray | None, expressions: np.ndarray, expression_names: Sequence[str],
                 times: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(valence, arousal), each (B,) in [-1, 1], NaN where ``usable`` is False.

        ``emotions`` is used as given (e.g. the stored fused posterior when the pipeline replays a
        partial file on --resume).
        """
        out, _ = self._run(emotions, expressions, expression_names, times, usable, fuse_geometry=False)
        return out[:, 0], out[:, 1]

    def estimate_fused(self, fer: np.ndarray, expressions: np.ndarray, expression_names: Sequence[str],
                       times: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(fused posterior (B, K) float32, valence (B,), arousal (B,)) from the appearance posterior.

        Rows without a finite appearance posterior stay NaN in the fused posterior.
        """
        out, post = self._run(np.asarray(fer), expressions, expression_names, times, usable, fuse_geometry=True)
        return post, out[:, 0], out[:, 1]


@dataclass
class DirectVA(_ExponentialSmoother):
    """Valence/arousal predicted by the emotion model itself (e.g. HSEmotion), smoothed like the default."""

    tau_s: float = 0.3
    gap_s: float = 1.0
    name: str = "model-va"
    _last_t: float = field(init=False, default=float("nan"), repr=False)
    _state: np.ndarray | None = field(init=False, default=None, repr=False)

    def reset(self) -> None:
        self._state, self._last_t = None, float("nan")

    def smooth(self, direct: np.ndarray, times: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smooth (B, 2) raw valence/arousal; NaN where not usable."""
        out = np.full((len(times), 2), np.nan)
        for i in range(len(times)):
            if not usable[i] or not np.all(np.isfinite(direct[i])):
                self._state = None
                continue
            raw = np.clip(np.asarray(direct[i], dtype=np.float64), -1, 1)
            out[i] = self._smooth(float(times[i]), raw)
        return out[:, 0], out[:, 1]
