"""One cohort-table row per session: quality counts, valence/arousal indices, per-label stats.

The row holds only what the results file and segments determine (no wall-clock times), so
re-running a batch, or running it on another engine, gives the same table. Column names are
documented in ``docs/batch.md``.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.atomic import atomic_path
from facelens.core.dynamics import (
    QUADRANTS,
    SeriesIndices,
    label_pieces,
    pooled_indices,
    quadrant_fractions,
    segment_mask,
    series_indices,
)
from facelens.core.annotation.segments import DEFAULT_LABELS, Segment
from facelens.core.common.types import Quality, is_usable

#: Index fields reported for each series (see core.dynamics.SeriesIndices).
INDEX_FIELDS = ("n_valid", "mean", "sd", "mssd", "pac", "inertia", "range")
#: Leading columns of the cohort table, in this order.
ID_COLUMNS = ("session_id", "subject_id", "diagnosis", "status", "reason", "video", "segments", "results")
_QUADRANT_NAMES = {"V+A+": "vpos_apos", "V-A+": "vneg_apos", "V-A-": "vneg_aneg", "V+A-": "vpos_aneg",
                   "centre": "centre"}


def _series(prefix: str, idx: SeriesIndices) -> dict[str, Any]:
    return {f"{prefix}_{f}": _num(getattr(idx, f)) for f in INDEX_FIELDS}


def _num(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else float("nan")
    if isinstance(x, np.integer):
        return int(x)
    return x


def session_row(results: Any, segments: Sequence[Segment] | None) -> dict[str, Any]:
    """Measures of one analysed session (``results`` is an open ``SessionResults``).

    Parameters
    ----------
    results
        The session's results.
    segments
        Annotated segments, or ``None`` when the manifest gives none: then the per-label
        columns are absent (NaN in the cohort table), the whole-session ones are still there.
    """
    n = int(results.n_frames)
    usable = is_usable(results.quality)
    counts = np.bincount(results.quality.astype(np.int64), minlength=len(Quality))
    row: dict[str, Any] = {
        "n_frames": n,
        "fps": _num(float(results.params.get("fps", float("nan")))),
        "duration_s": _num(results.duration_s),
        "n_usable": int(usable.sum()),
        "usable_fraction": _num(float(usable.mean()) if n else float("nan")),
    }
    for code in Quality:
        row[f"n_{code.name.lower()}"] = int(counts[int(code)])
    # The same definitions as core.dynamics.compute_dynamics, built from its pieces: the cohort
    # row needs the per-label pooled indices, not the per-segment responses.
    t = np.asarray(results.time_s, np.float64)
    v = np.asarray(results.valence, np.float64)
    a = np.asarray(results.arousal, np.float64)
    if segments is not None:  # a reviewer's exclusions: unusable frames, no label (annotation.exclusions)
        from facelens.core.annotation import exclusions

        usable, segments = exclusions.apply(t, usable, segments)
    row.update(_series("session_valence", series_indices(v, usable, t)))
    row.update(_series("session_arousal", series_indices(a, usable, t)))
    quads = quadrant_fractions(v, a, usable)
    for q in QUADRANTS:
        row[f"session_quadrant_{_QUADRANT_NAMES[q]}"] = _num(quads[q])
    if segments is None:
        return row
    segs = sorted(segments, key=lambda s: (s.start_s, s.end_s))
    row["n_segments"] = len(segs)
    labels = list(DEFAULT_LABELS) + sorted({s.label for s in segs} - set(DEFAULT_LABELS))
    means: dict[str, float] = {}
    for label in labels:
        mine = [s for s in segs if s.label == label]
        key = _label_key(label)
        row[f"{key}_n_segments"] = len(mine)
        row[f"{key}_n_frames"] = int(segment_mask(t, mine).sum())
        vi = pooled_indices(label_pieces(t, v, usable, mine))
        row.update(_series(f"{key}_valence", vi))
        row.update(_series(f"{key}_arousal", pooled_indices(label_pieces(t, a, usable, mine))))
        means[label] = vi.mean
    row["valence_contrast_happy_sad"] = _num(means["happy"] - means["sad"])
    return row


def _label_key(label: str) -> str:
    key = "".join(c if c.isalnum() else "_" for c in label.strip().lower()).strip("_")
    return f"label_{key or 'unnamed'}"


def cohort_frame(rows: Sequence[dict[str, Any]]) -> Any:
    """The cohort table (pandas DataFrame): identity columns first, then measures in first-seen order."""
    import pandas as pd

    columns: list[str] = list(ID_COLUMNS)
    for r in rows:
        for k in r:
            if k not in columns:
                columns.append(k)
    df = pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)
    for c in ID_COLUMNS:
        df[c] = df[c].fillna("").astype(str)
    for c in columns[len(ID_COLUMNS):]:
        df[c] = pd.to_numeric(df[c], errors="coerce")
        if c.startswith("n_") or "_n_" in c:  # counts stay integers; empty for failed sessions
            df[c] = df[c].astype("Int64")
    return df


def _atomic_write(path: Path, write: Any) -> Path:
    with atomic_path(path, make_parents=True) as tmp:
        write(tmp)
    return path


def write_cohort_tables(rows: Sequence[dict[str, Any]], out_dir: Path) -> tuple[Path, Path, Path]:
    """Write ``cohort.csv``, ``cohort.parquet`` and ``failures.csv`` atomically; return their paths."""
    import pandas as pd

    df = cohort_frame(rows)
    csv_path = _atomic_write(out_dir / "cohort.csv", lambda p: df.to_csv(p, index=False))
    pq_path = _atomic_write(out_dir / "cohort.parquet", lambda p: df.to_parquet(p, index=False))
    failed = df[df["status"] == "failed"][["session_id", "reason", "video"]]
    fail_df = pd.DataFrame({"session": failed["session_id"], "reason": failed["reason"],
                            "video": failed["video"]})
    fail_path = _atomic_write(out_dir / "failures.csv", lambda p: fail_df.to_csv(p, index=False))
    return csv_path, pq_path, fail_path
