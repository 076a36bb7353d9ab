"""The per-frame export table (CSV / Parquet) of a results file: one column list for the CLI and the GUI.

Columns (``docs/results-columns.md``): ``time_s, frame_index, face_ok, quality, yaw, pitch, roll``,
``expr_<name>`` per expression measure, ``emo_<label>`` per emotion, ``valence, arousal`` when the
file has them, ``coef_exp_<k>, coef_id_<k>, fit_residual`` for files with the morphable fit, and
``x_<i>, y_<i>, z_<i>`` per mesh point on request.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

EXPORT_ROWS = 4096  # rows per chunk: bounded memory for long sessions with landmarks


def export_column_names(r: Any, landmarks: bool) -> list[str]:
    names = ["time_s", "frame_index", "face_ok", "quality", "yaw", "pitch", "roll"]
    names += [f"expr_{n}" for n in r.expression_names]
    names += [f"emo_{lab}" for lab in r.emotion_labels]
    if np.isfinite(r.valence).any() or np.isfinite(r.arousal).any():
        names += ["valence", "arousal"]
    if getattr(r, "coef_exp", None) is not None:  # schema 2: the morphable fit
        names += [f"coef_exp_{k}" for k in range(r.coef_exp.shape[1])]
        names += [f"coef_id_{k}" for k in range(r.coef_id.shape[1])] + ["fit_residual"]
    if landmarks:
        names += [f"{axis}_{i}" for axis in "xyz" for i in range(478)]
    return names


def export_chunks(r: Any, landmarks: bool = False, rows: int = EXPORT_ROWS) -> Iterator[Any]:
    """The export table of a :class:`SessionResults` as pandas DataFrames of ``rows`` rows."""
    import pandas as pd

    from facelens.core.common.types import Quality

    names = export_column_names(r, landmarks)
    qnames = np.array([q.name.lower() for q in Quality] + ["unknown"] * (256 - len(Quality)), dtype=object)
    for start in range(0, r.n_frames, rows):
        sl = slice(start, min(start + rows, r.n_frames))
        cols: dict[str, Any] = {"time_s": r.time_s[sl], "frame_index": r.frame_index[sl],
                                "face_ok": r.usable[sl].astype(np.int8), "quality": qnames[r.quality[sl]],
                                "yaw": r.euler[sl, 0], "pitch": r.euler[sl, 1], "roll": r.euler[sl, 2]}
        for j, n in enumerate(r.expression_names):
            cols[f"expr_{n}"] = r.expressions[sl, j]
        for j, lab in enumerate(r.emotion_labels):
            cols[f"emo_{lab}"] = r.emotions[sl, j]
        if "valence" in names:
            cols["valence"], cols["arousal"] = r.valence[sl], r.arousal[sl]
        if "fit_residual" in names:
            for k in range(r.coef_exp.shape[1]):
                cols[f"coef_exp_{k}"] = r.coef_exp[sl, k]
            for k in range(r.coef_id.shape[1]):
                cols[f"coef_id_{k}"] = r.coef_id[sl, k]
            cols["fit_residual"] = r.fit_residual[sl]
        if landmarks:
            lm = r.landmarks(sl)
            for a, axis in enumerate("xyz"):
                for i in range(lm.shape[1]):
                    cols[f"{axis}_{i}"] = lm[:, i, a]
        yield pd.DataFrame(cols, columns=names)
