"""A person's neutral face in expression measures, estimated robustly and slowly (Qt-free, numpy).

Geometric affect cues are deviations of the expression measures (``geometry.EXPRESSION_NAMES``,
inter-ocular units) from the person's own neutral face. A running mean of *all* frames (an earlier
version) would make a held expression the baseline, fading it within seconds. Here:

* each usable frame is weighted by how neutral it looks: the neutral probability of the emotion
  posterior (when there is one) times a geometric closeness factor ``g`` (1 near the current
  baseline, about 0 for a frame whose three largest |z| average 7 SD), plus a small floor ``w_min``
  so that a person who is never called neutral still gets a baseline;
* the weights decay with a time constant of ``tau_s`` = 120 s (minutes, not seconds): a 15-s smile
  with a neutral probability near 0 moves the baseline by about ``w_min`` x 15 s / (weight so far);
* every update is clipped at ``clip_sd`` standard deviations (a Huber-type step), so single odd
  frames (blinks, tracking jitter) cannot drag the baseline;
* the spread used for z-scores never falls below ``floor`` (measurement noise of the mesh), so a
  perfectly still neutral face does not turn a small real movement into an enormous z-score.

``trust`` grows from 0 to 1 with the accumulated neutral weight (``warm_weight``, about 1 s of
clearly neutral frames at 10 fps): consumers scale geometric evidence by it, so the first frames
of a session (or a single still image) rely on the appearance model alone.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

# Spread floors (SD units for z-scores). Most measures are in inter-ocular units, where the
# frame-to-frame jitter of a still face is about 0.005-0.01 (tests/test_geometry.py, neutral span of
# pyfeat_single_face.mp4); eye_closure is a fraction of the template's aperture, so it gets its own.
DEFAULT_FLOOR = 0.015
FLOORS = {"eye_closure": 0.08, "smile_asymmetry": 0.02}


def spread_floors(names: Sequence[str]) -> np.ndarray:
    """Per-measure spread floor for ``names`` (see :data:`FLOORS`)."""
    return np.array([FLOORS.get(n, DEFAULT_FLOOR) for n in names], dtype=np.float64)


@dataclass
class NeutralBaseline:
    """Slow, neutral-weighted, outlier-clipped mean and spread of the expression measures.

    Parameters
    ----------
    floor
        Minimum spread per measure (scalar or (K,)), see :func:`spread_floors`.
    tau_s
        Forgetting time constant in seconds.
    w_min
        Weight of a frame that does not look neutral at all.
    clip_sd
        Updates are clipped at this many standard deviations.
    warm_weight
        Accumulated neutral weight at which ``trust`` reaches 1.
    """

    floor: np.ndarray | float = DEFAULT_FLOOR
    tau_s: float = 120.0
    w_min: float = 0.05
    clip_sd: float = 2.5
    warm_weight: float = 10.0
    mean: np.ndarray | None = field(default=None, init=False)
    var: np.ndarray | None = field(default=None, init=False)
    weight: float = field(default=0.0, init=False)  # decayed sum of all update weights
    neutral_weight: float = field(default=0.0, init=False)  # decayed sum of neutral evidence
    last_t: float = field(default=float("nan"), init=False)
    _seen: np.ndarray | None = field(default=None, init=False, repr=False)

    def reset(self) -> None:
        """Forget the person (a new session)."""
        self.mean, self.var, self._seen = None, None, None
        self.weight, self.neutral_weight, self.last_t = 0.0, 0.0, float("nan")

    def fix(self, mean: np.ndarray, sd: np.ndarray) -> None:
        """Set the baseline to a known neutral face (an anchor) with full trust."""
        self.mean = np.asarray(mean, np.float64).copy()
        self.var = np.asarray(sd, np.float64) ** 2
        self._seen = np.isfinite(self.mean)
        self.weight = self.neutral_weight = self.warm_weight

    @property
    def trust(self) -> float:
        """0..1: how far the baseline can be relied on (accumulated neutral weight)."""
        return min(1.0, self.neutral_weight / self.warm_weight)

    def _sd(self) -> np.ndarray:
        assert self.var is not None
        return np.sqrt(np.maximum(self.var, np.asarray(self.floor, dtype=np.float64) ** 2))

    def zscores(self, x: np.ndarray) -> np.ndarray:
        """z-scores of one frame's measures against the baseline (0 for missing values / no baseline)."""
        if self.mean is None:
            return np.zeros_like(x)
        z = (x - self.mean) / self._sd()
        return np.where(np.isfinite(z), z, 0.0)

    @staticmethod
    def closeness(z: np.ndarray) -> float:
        """1 for a frame near the baseline, towards 0 for a clear expression (mean of the top-3 |z|)."""
        if z.size == 0:
            return 1.0
        top = np.sort(np.abs(z))[-3:].mean()
        excess = max(0.0, top - 2.5) / 1.5
        return float(np.exp(-0.5 * excess * excess))

    def update(self, x: np.ndarray, t: float, p_neutral: float | None, z: np.ndarray | None = None) -> None:
        """Add one usable frame at time ``t`` with the posterior's neutral probability (or None)."""
        ok = np.isfinite(x)
        if not ok.any():
            return
        if z is None:
            z = self.zscores(x)
        g = self.closeness(z) if self.mean is not None else 1.0
        p_n = g if p_neutral is None or not np.isfinite(p_neutral) else float(p_neutral) * (0.25 + 0.75 * g)
        w = self.w_min + (1.0 - self.w_min) * p_n
        dt = t - self.last_t
        decay = float(np.exp(-dt / self.tau_s)) if np.isfinite(dt) and dt > 0 else 1.0
        self.last_t = t
        self.weight = self.weight * decay + w
        self.neutral_weight = self.neutral_weight * decay + p_n
        if self.mean is None:
            self.mean = np.where(ok, x, 0.0)
            self.var = np.zeros_like(self.mean)
            self._seen = ok.copy()
            return
        assert self._seen is not None and self.var is not None
        first = ok & ~self._seen  # a measure seen for the first time starts at its value
        self.mean = np.where(first, x, self.mean)
        self._seen |= ok
        a = w / self.weight
        sd = self._sd()
        d = np.where(ok & ~first, x - self.mean, 0.0)
        d = np.clip(d, -self.clip_sd * sd, self.clip_sd * sd)
        self.mean = self.mean + a * d
        self.var = (1.0 - a) * (self.var + a * d * d)
