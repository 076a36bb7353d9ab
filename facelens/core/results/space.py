"""Free-space checks for results files: refuse before the disk is full, never write into a full one.

HDF5 does not survive a write that fails with "no space left on device": closing such a file crashed
the interpreter (segmentation fault, exit 139, measured on a 200 kB tmpfs). So the writer checks the
free space itself: once for the whole expected analysis when it starts, and before every batch, and
stops with a one-line :class:`ResultsError` while the ``.partial`` file is still consistent (its
frames so far can be resumed once there is room).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.results.schema import ResultsError

#: Kept free beyond the data itself: HDF5 metadata, chunk rounding, the final attribute writes.
MARGIN_BYTES = 4 << 20

__all__ = ["MARGIN_BYTES", "bytes_per_frame", "check_free_space"]


def bytes_per_frame(specs: dict[str, tuple[tuple[int, ...], str, Any]]) -> int:
    """Uncompressed bytes one frame adds to a results file with these column specs."""
    return int(sum(np.dtype(dtype).itemsize * int(np.prod(shape, dtype=np.int64)) for shape, dtype, _ in specs.values()))


def check_free_space(folder: Path, need_bytes: int, what: str, partial_note: str = "") -> None:
    """Raise ``ResultsError`` when ``folder``'s file system has less than ``need_bytes`` + margin free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:  # cannot tell (a missing folder is reported by whoever creates it)
        return
    if free < need_bytes + MARGIN_BYTES:
        need_mb = (need_bytes + MARGIN_BYTES) / 1e6
        raise ResultsError(f"not enough free space for {what} in {folder}: about {need_mb:.1f} MB needed, "
                           f"{free / 1e6:.1f} MB free{partial_note}")
