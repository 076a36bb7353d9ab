"""Helpers shared by the exporters: the error type and atomic file writes."""
from __future__ import annotations

import os
from pathlib import Path

from facelens.core.common.atomic import atomic_write_bytes


class ExportError(ValueError):
    """An export or import that cannot be done (one-line message)."""


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it (never a half file)."""
    p = Path(path)
    if p.is_dir():
        raise ExportError(f"{p} is a folder; give a file name")
    return atomic_write_bytes(p, data, make_parents=True)


def read_text(path: str | os.PathLike[str], what: str) -> str:
    p = Path(path)
    if not p.is_file():
        raise ExportError(f"{what} not found: {p}")
    try:
        return p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read {what} {p.name}: {exc}") from None
