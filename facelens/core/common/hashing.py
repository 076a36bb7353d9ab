"""SHA-256 of files, streamed in blocks (a session video can be gigabytes)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_BLOCK = 1 << 20  # 1 MiB: large enough that hashing runs at disk speed, small enough for any memory


def sha256_file(path: str | os.PathLike[str], block_size: int = _BLOCK) -> str:
    """Hex SHA-256 of the file at ``path``, read in ``block_size`` blocks.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while chunk := fh.read(block_size):
            digest.update(chunk)  # hashlib releases the GIL for large blocks
    return digest.hexdigest()
