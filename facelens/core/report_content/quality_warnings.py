"""Plain-language data-quality warnings per segment label (one owner for the GUI panel and the report).

A clinician reading a prediction or a per-label table must see at once when a label rests on few
usable frames ("43 % of the sad frames were unusable") or is missing ("no neutral segment").

Public API
----------
``label_warnings(pairs, labels=("happy", "sad", "neutral"), min_valid_share=0.7) -> list[str]``
    ``pairs``: (time_s, valid mask, segments) per session.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

#: Below this share of valid frames in a label's segments, the label is flagged. The pipeline's own
#: quality flags decide what is valid; 0.7 is a reporting threshold (no published standard exists):
#: under it, more than three in ten frames of that label could not be measured.
MIN_VALID_SHARE = 0.7


def label_warnings(pairs: Iterable[tuple[np.ndarray, np.ndarray, Sequence[Any]]],
                   labels: Sequence[str] = ("happy", "sad", "neutral"),
                   min_valid_share: float = MIN_VALID_SHARE) -> list[str]:
    """Warnings for labels with a low share of valid frames, and for labels without a segment."""
    frames: dict[str, int] = {}
    valid: dict[str, int] = {}
    for t, ok, segs in pairs:
        t = np.asarray(t, dtype=np.float64)
        ok = np.asarray(ok, dtype=bool)
        for s in segs:
            inside = (t >= s.start_s) & (t < s.end_s)
            frames[s.label] = frames.get(s.label, 0) + int(inside.sum())
            valid[s.label] = valid.get(s.label, 0) + int((inside & ok).sum())
    out: list[str] = []
    for lab in list(labels) + sorted(set(frames) - set(labels)):
        n = frames.get(lab, 0)
        if lab not in frames:
            out.append(f"No {lab} segment was annotated.")
        elif n == 0:
            out.append(f"The {lab} segments contain no analysed frame.")
        elif valid[lab] / n < min_valid_share:
            bad = 1.0 - valid[lab] / n
            out.append(f"{100 * bad:.0f} % of the {lab} frames were unusable ({n - valid[lab]} of {n}: "
                       "no face, occlusion, blur or extreme head pose); the {lab} figures rest on "
                       f"{valid[lab]} frames.".replace("{lab}", lab))
    return out
