"""The results file's schema: version, per-frame columns (name, shape, dtype, fill) and root attributes.

The one owner of the column list: the writer, the reader and the exports take the names from here.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.types import N_LANDMARKS


SCHEMA_VERSION = 2  # 2: morphable-model coefficients (coef_exp, coef_id, fit_residual), emotions_appearance
READABLE_SCHEMAS = (1, 2)  # schema-1 files open; their new columns read as absent (None)
PARTIAL_SUFFIX = ".partial"
ROWS_PER_CHUNK = 1024  # small columns: one chunk ~ 100 s of a session at 10 fps
LANDMARK_ROWS_PER_CHUNK = 16  # ~92 kB per chunk keeps the GUI's single-frame reads cheap
JSON_KEYS_ATTR = "json_keys"


class ResultsError(Exception):
    """A results file that cannot be used (missing, corrupt, incomplete); one-line message."""


def partial_path(path: str | os.PathLike[str]) -> Path:
    """Where the writer keeps an unfinished results file for ``path``."""
    p = Path(path)
    return p.with_name(p.name + PARTIAL_SUFFIX)


def column_specs(n_expr: int, n_emo: int | None, coef_sizes: tuple[int, int] | None = None,
                 appearance: bool = False) -> dict[str, tuple[tuple[int, ...], str, Any]]:
    """Per-frame datasets: name -> (trailing shape, dtype, fill value for missing columns).

    ``coef_sizes`` (K_exp, K_id) adds the morphable model's per-frame fit (``coef_exp``, the
    identity it used ``coef_id``, ``fit_residual`` in inter-ocular units); ``appearance`` adds
    ``emotions_appearance``, the appearance posterior when another estimator fills ``emotions``.
    """
    nan = np.nan
    specs: dict[str, tuple[tuple[int, ...], str, Any]] = {
        "time_s": ((), "f8", None),  # None: the column is required
        "frame_index": ((), "i8", None),
        "quality": ((), "u1", None),
        "n_faces": ((), "u1", 0),
        "confidence": ((), "f4", nan),
        "blur": ((), "f4", nan),
        "bbox": ((4,), "f4", nan),
        "landmarks": ((N_LANDMARKS, 3), "f4", nan),
        "euler": ((3,), "f4", nan),
        "rotation": ((3, 3), "f4", nan),
        "translation": ((3,), "f4", nan),
        "scale": ((), "f4", nan),
        "expressions": ((n_expr,), "f4", nan),
        "valence": ((), "f4", nan),
        "arousal": ((), "f4", nan),
    }
    if n_emo is not None:
        specs["emotions"] = ((n_emo,), "f4", nan)
        if appearance:
            specs["emotions_appearance"] = ((n_emo,), "f4", nan)
    if coef_sizes is not None:
        specs["coef_exp"] = ((int(coef_sizes[0]),), "f4", nan)
        specs["coef_id"] = ((int(coef_sizes[1]),), "f4", nan)
        specs["fit_residual"] = ((), "f4", nan)
    return specs


def set_meta(attrs: Any, meta: dict[str, Any]) -> None:
    """Store ``meta`` as root attributes; dicts and lists become JSON strings."""
    json_keys = set(json.loads(attrs.get(JSON_KEYS_ATTR, "[]")))
    for key, value in meta.items():
        if value is None:
            continue
        if isinstance(value, (dict, list, tuple)):
            attrs[key] = json.dumps(value, default=str)
            json_keys.add(key)
        else:
            attrs[key] = str(value) if isinstance(value, os.PathLike) else value
            json_keys.discard(key)
    attrs[JSON_KEYS_ATTR] = json.dumps(sorted(json_keys))


def read_meta(attrs: Any) -> dict[str, Any]:
    json_keys = set(json.loads(attrs.get(JSON_KEYS_ATTR, "[]"))) | {"params", "models"}
    meta: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == JSON_KEYS_ATTR:
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, np.generic):
            value = value.item()
        if key in json_keys and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ResultsError(f"attribute {key!r} is not valid JSON: {exc}") from None
        meta[key] = value
    return meta
