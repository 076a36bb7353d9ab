"""File permissions of a workspace: owner-only, also for workspaces an older FaceLens made."""
from __future__ import annotations

import os
import stat
from pathlib import Path

from facelens.core.common.atomic import PRIVATE_DIR, PRIVATE_FILE


def owner_only(folder: Path, db_name: str, analyses_dir: str) -> None:
    """Take group/other access away from the workspace folder, ``analyses/`` and the database files
    (a workspace made by an older FaceLens, or in a folder the user picked, was world-readable).
    Best effort: a read-only or foreign workspace is used as it is."""
    items = [(folder, PRIVATE_DIR), (folder / analyses_dir, PRIVATE_DIR)]
    items += [(folder / (db_name + sfx), PRIVATE_FILE) for sfx in ("", "-wal", "-shm")]
    for path, mode in items:
        try:
            if stat.S_IMODE(path.stat().st_mode) & 0o077:
                os.chmod(path, mode)
        except OSError:
            continue
