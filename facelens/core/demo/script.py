"""The demo's expression script: spans of scripted expressions, their key-pose weights over time,
and the checks that compare an analysis of the demo with its script."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.core.demo.warp import DemoError

# Measures (by name prefix in geometry.EXPRESSION_NAMES) that each scripted expression should move.
RELEVANT_MEASURES: dict[str, tuple[str, ...]] = {
    "smile": ("lip_corner_pull", "cheek_raise"),
    "sad": ("lip_corner_depress", "inner_brow_raise"),
    "surprise": ("jaw_drop", "mouth_open", "outer_brow_raise", "upper_lid_raise"),
}


def script_resource() -> Path:
    from facelens.core.common.paths import resources_dir

    return resources_dir() / "demo" / "script.json"


@dataclass(frozen=True)
class ScriptSpan:
    """One scripted span: an expression held at ``intensity`` (0..1) from start to end."""

    start_s: float
    end_s: float
    expression: str
    intensity: float

    def plateau(self, ramp_s: float) -> tuple[float, float]:
        """The part of the span where the expression is fully on (onset and offset removed)."""
        if self.expression == "neutral":
            # Neutral spans sit between expressions whose offsets/onsets lie outside them.
            return self.start_s, self.end_s
        return self.start_s + ramp_s, self.end_s - ramp_s


def load_script(duration_s: float) -> tuple[list[ScriptSpan], float, dict[str, str]]:
    """The packaged script scaled to ``duration_s``: spans, onset/offset ramp (s), segment labels."""
    script_path = Path("script.json")
    try:
        script_path = script_resource()
        spec = json.loads(script_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DemoError(f"demo script resource unreadable ({script_path.name}): {exc}") from None
    k = duration_s / float(spec["nominal_duration_s"])
    spans = [
        ScriptSpan(round(s["start_s"] * k, 3), round(s["end_s"] * k, 3), s["expression"], float(s["intensity"]))
        for s in spec["spans"]
    ]
    shortest = min(s.end_s - s.start_s for s in spans if s.expression != "neutral")
    ramp = min(float(spec["ramp_s"]), 0.3 * shortest)  # a short demo keeps a visible plateau
    return spans, ramp, dict(spec["labels"])


def read_script(path: str | Path) -> list[ScriptSpan]:
    """Read a demo ``script.json`` (list of {start_s, end_s, expression, intensity})."""
    try:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        return [ScriptSpan(float(r["start_s"]), float(r["end_s"]), str(r["expression"]), float(r["intensity"]))
                for r in rows]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DemoError(f"cannot read demo script {Path(path).name}: {exc}") from None


def pose_weights(spans: Sequence[ScriptSpan], t: float, ramp_s: float) -> dict[str, float]:
    """Intensity of each key pose at time ``t``, with raised-cosine onsets and offsets."""
    out: dict[str, float] = {}
    for s in spans:
        if s.expression == "neutral" or not (s.start_s <= t < s.end_s):
            continue
        edge = min(t - s.start_s, s.end_s - t)
        ramp = 1.0 if edge >= ramp_s else 0.5 - 0.5 * math.cos(math.pi * edge / ramp_s)
        out[s.expression] = out.get(s.expression, 0.0) + s.intensity * ramp
    return out


def relevant_measures(names: Sequence[str]) -> dict[str, list[str]]:
    """For each scripted expression, the expression measures (of ``names``) it should raise."""
    return {expr: [n for n in names if n.startswith(prefixes)] for expr, prefixes in RELEVANT_MEASURES.items()}


def plateau_means(time_s: np.ndarray, usable: np.ndarray, values: np.ndarray,
                  spans: Sequence[ScriptSpan], ramp_s: float) -> dict[str, tuple[np.ndarray, int]]:
    """Mean of ``values`` (N, K) over usable frames in each expression's plateaus.

    Returns ``{expression: (means (K,), frame count)}``; means are NaN where no frame qualifies.
    """
    out: dict[str, tuple[np.ndarray, int]] = {}
    for expr in dict.fromkeys(s.expression for s in spans):
        mask = np.zeros(len(time_s), bool)
        for s in spans:
            if s.expression == expr:
                a, b = s.plateau(ramp_s)
                mask |= (time_s >= a) & (time_s < b)
        mask &= usable
        n = int(mask.sum())
        means = np.nanmean(values[mask], axis=0) if n else np.full(values.shape[1], np.nan)
        out[expr] = (means, n)
    return out
