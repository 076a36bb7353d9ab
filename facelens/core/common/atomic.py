"""Atomic file writes: a temporary file in the destination's folder, renamed over it on success.

Every FaceLens output (CSV, JSON, PDF, meshes, model files, cohort tables) goes through here, so a
reader never sees a half-written file under the final name and every output gets the same
permissions: ``0644`` filtered by the process umask (the temporary file is created with
``os.open(..., 0o644)``, so the kernel applies the umask exactly as for a plain ``open``; unlike
``tempfile.mkstemp``, which always makes owner-only ``0600`` files).

Errors are ``OSError`` whose ``filename`` is the *final* path, never the temporary name, so a
one-line message can quote what the user asked for.
"""
from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text", "os_error_line"]

_MODE = 0o644  # before the umask
_TRIES = 16


def _reraise_for(exc: OSError, final: Path) -> OSError:
    """The same error, naming ``final`` instead of the temporary file."""
    return OSError(exc.errno, exc.strerror or str(exc), str(final))


def _create_temp(final: Path) -> Path:
    """Create an empty, exclusive temporary file beside ``final`` (mode 0644 & ~umask)."""
    for _ in range(_TRIES):
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _MODE)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise OSError(errno.EEXIST, "cannot create a temporary file", str(final))


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_parents: bool = False) -> Iterator[Path]:
    """Give a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Final destination (a file name, not a folder).
    make_parents
        Create missing parent folders first (default: a missing folder is an error).

    Yields
    ------
    Path
        An existing empty file in the same folder, to be overwritten by the caller (by path: h5py,
        reportlab, ``torch.save`` and pandas keep its permissions when they truncate it).

    Raises
    ------
    IsADirectoryError
        ``path`` is a folder.
    OSError
        The folder cannot be written; ``filename`` is ``path``. On any exception in the block the
        temporary file is removed and the exception propagates; ``path`` is untouched.
    """
    final = Path(path)
    if final.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a folder; give a file name", str(final))
    try:
        if make_parents:
            final.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(final)
    except OSError as exc:
        raise _reraise_for(exc, final) from None
    try:
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _reraise_for(exc, final) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, make_parents: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return ``Path(path)``."""
    with atomic_path(path, make_parents=make_parents) as tmp, open(tmp, "wb") as f:
        f.write(data)  # no fsync: cohorts write hundreds of small files; a crash leaves a .tmp, not a half file
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8",
                      make_parents: bool = False) -> Path:
    """Write ``text`` (``newline`` untranslated) to ``path`` atomically; return ``Path(path)``."""
    return atomic_write_bytes(path, text.encode(encoding), make_parents=make_parents)


def os_error_line(exc: OSError, action: str = "cannot write") -> str:
    """One line for the user: ``cannot write PATH: reason`` (no temporary names, no errno tuple)."""
    name = exc.filename if exc.filename is not None else ""
    reason = exc.strerror or str(exc)
    return f"{action} {name}: {reason}" if name else f"{action}: {reason}"
