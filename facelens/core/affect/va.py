"""Valence/arousal estimators (pluggable; Qt-free, numpy only).

The default, :class:`CircumplexVA`, places the emotion posterior on the circumplex (Russell 1980) and
adds the geometric expression measures of :mod:`facelens.core.geometry`, then smooths lightly in time.

Emotion coordinates: the ANEW norms (Bradley & Lang 1999, "Affective Norms for English Words",
University of Florida technical report C-1) for the words naming each class, rated on 1-9 SAM scales,
mapped to [-1, 1] by ``(x - 5) / 4``. Neutral is the centre of both scales by construction.
See ``docs/affect.md`` for the values and which were re-checked against a public copy of the table.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

# (valence, arousal) on the 1-9 SAM scales from ANEW, word in brackets.
ANEW_SAM: dict[str, tuple[float, float]] = {
    "angry": (2.85, 7.17),  # "angry"
    "disgust": (2.45, 5.42),  # "disgusted"
    "fear": (2.00, 6.67),  # "afraid"
    "happy": (8.21, 6.49),  # "happy"
    "sad": (1.61, 4.13),  # "sad"
    "surprise": (7.47, 7.47),  # "surprised"
    "neutral": (5.00, 5.00),  # scale centre (no ANEW word)
}


def circumplex_coordinates(labels: Sequence[str]) -> np.ndarray:
    """(K, 2) valence/arousal in [-1, 1] for emotion ``labels`` (from :data:`ANEW_SAM`)."""
    return np.array([[(v - 5.0) / 4.0, (a - 5.0) / 4.0] for v, a in (ANEW_SAM[lab] for lab in labels)])


# Geometric cues: name in geometry.EXPRESSION_NAMES -> sign of its effect on (valence, arousal).
# Smiles (AU12) and cheek raise (AU6) mark positive affect; brow lowering (AU4) and lip-corner
# depression (AU15) negative affect; upper-lid raise (AU5) and mouth/jaw opening (AU25-27) mark high
# arousal (FACS, Ekman & Friesen 1978; their use as valence/arousal cues: Mehu & Scherer 2015).
VALENCE_CUES = {"lip_corner_pull_l": 1.0, "lip_corner_pull_r": 1.0, "cheek_raise": 1.0,
                "brow_lower": -1.0, "lip_corner_depress": -1.0}
AROUSAL_CUES = {"upper_lid_raise_l": 1.0, "upper_lid_raise_r": 1.0, "upper_lid_raise": 1.0,
                "mouth_open": 1.0, "jaw_drop": 1.0}


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
class _Baseline:
    """Running per-feature mean and variance (a person's own typical face), updated on usable frames."""

    horizon: int = 600  # frames (60 s at 10 fps): after that, an exponential window
    warmup: int = 10  # frames before a z-score is trusted (1 s at 10 fps)
    n: int = 0
    mean: np.ndarray | None = None
    var: np.ndarray | None = None

    def zscore_and_update(self, x: np.ndarray) -> np.ndarray:
        x = np.where(np.isfinite(x), x, np.nan)
        if self.mean is None:
            self.mean, self.var = np.nan_to_num(x), np.zeros_like(x)
        if self.n < self.warmup:
            z = np.zeros_like(x)
        else:
            # the floor keeps a feature that has not moved yet from exploding on its first change
            sd = np.sqrt(np.maximum(self.var, 1e-4 * (np.abs(self.mean) + 1e-3) ** 2 + 1e-12))
            z = (x - self.mean) / sd
        ok = np.isfinite(x)
        self.n += 1
        a = max(1.0 / self.n, 1.0 / self.horizon)
        d = np.where(ok, x - self.mean, 0.0)
        self.mean = self.mean + a * d
        self.var = (1 - a) * (self.var + a * d * d)
        return np.where(np.isfinite(z), z, 0.0)


@dataclass
class CircumplexVA:
    """Emotion posterior on the circumplex + geometric expression cues, lightly smoothed.

    Parameters
    ----------
    labels
        Emotion class names of the posterior columns (keys of :data:`ANEW_SAM`).
    emotion_weight
        Share of the emotion term; the rest goes to the geometric cues (all of it when no posterior).
    tau_s
        Time constant of the exponential smoothing (seconds).
    gap_s
        A gap longer than this (or unusable frames) restarts the smoothing.
    """

    labels: Sequence[str] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    emotion_weight: float = 0.7
    tau_s: float = 0.3
    gap_s: float = 1.0
    name: str = "circumplex-anew+geometry"
    _coords: np.ndarray = field(init=False, repr=False)
    _base: _Baseline = field(init=False, repr=False)
    _prev_expr: np.ndarray | None = field(init=False, default=None, repr=False)
    _energy: _Baseline = field(init=False, repr=False)
    _last_t: float = field(init=False, default=float("nan"), repr=False)
    _state: np.ndarray | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self._coords = circumplex_coordinates(self.labels)
        self.reset()

    def reset(self) -> None:
        self._base, self._energy = _Baseline(), _Baseline()
        self._prev_expr, self._state, self._last_t = None, None, float("nan")

    def _geometric(self, expr: np.ndarray, names: Sequence[str]) -> tuple[float, float]:
        """Geometric (valence, arousal) of one usable frame, each in (-1, 1)."""
        z = self._base.zscore_and_update(expr)
        index = {n: i for i, n in enumerate(names)}
        zv = [s * z[index[n]] for n, s in VALENCE_CUES.items() if n in index]
        za = [s * z[index[n]] for n, s in AROUSAL_CUES.items() if n in index]
        # movement energy: mean absolute change of the expression vector since the previous frame
        if self._prev_expr is not None and expr.size:
            step = np.nanmean(np.abs(expr - self._prev_expr))
            za.append(float(self._energy.zscore_and_update(np.array([step]))[0]))
        self._prev_expr = expr
        return _squash(zv), _squash(za)

    def estimate(self, emotions: np.ndarray | None, expressions: np.ndarray, expression_names: Sequence[str],
                 times: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b = len(times)
        out = np.full((b, 2), np.nan)
        if b == 0:
            return out[:, 0], out[:, 1]
        expressions = np.asarray(expressions, dtype=np.float64).reshape(b, -1)
        for i in range(b):
            if not usable[i]:
                self._state = None  # smoothing must not bridge across missing faces
                continue
            gv, ga = self._geometric(expressions[i], expression_names)
            p = None if emotions is None else np.asarray(emotions[i], dtype=np.float64)
            if p is not None and np.all(np.isfinite(p)):
                w = self.emotion_weight
                ev, ea = p @ self._coords
                raw = np.array([w * ev + (1 - w) * gv, w * ea + (1 - w) * ga])
            else:
                raw = np.array([gv, ga])
            t = float(times[i])
            dt = t - self._last_t
            if self._state is None or not np.isfinite(dt) or dt > self.gap_s or dt < 0:
                self._state = raw
            else:
                alpha = 1.0 - np.exp(-dt / self.tau_s)
                self._state = self._state + alpha * (raw - self._state)
            self._last_t = t
            out[i] = np.clip(self._state, -1.0, 1.0)
        return out[:, 0], out[:, 1]


@dataclass
class DirectVA:
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
            t, raw = float(times[i]), np.clip(np.asarray(direct[i], dtype=np.float64), -1, 1)
            dt = t - self._last_t
            if self._state is None or not np.isfinite(dt) or dt > self.gap_s or dt < 0:
                self._state = raw
            else:
                self._state = self._state + (1.0 - np.exp(-dt / self.tau_s)) * (raw - self._state)
            self._last_t = t
            out[i] = self._state
        return out[:, 0], out[:, 1]
