"""Atomic file writes: a temporary file in the destination's folder, renamed over it on success.

Every FaceLens output (CSV, JSON, PDF, meshes, model files, cohort tables) goes through here, so a
reader never sees a half-written file under the final name.

Permissions (the one owner of this rule): what FaceLens writes may hold patient data, so every file
is created owner-only, exactly ``0600``, and every folder FaceLens creates exactly ``0700``,
whatever the umask (set with ``chmod`` after creation, because a umask can only take bits away).
Folders that already exist keep their mode. The one exception is ``shared=True`` (model weights in
the model cache, which hold no patient data and may be shared): ``0644`` filtered by the umask.
Writers that create their file by name (HDF5 results, the SQLite workspace, whose ``-wal``/``-shm``
files SQLite creates with the database file's mode) get it from :func:`create_private_file`.

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

__all__ = ["PRIVATE_DIR", "PRIVATE_FILE", "atomic_path", "atomic_write_bytes", "atomic_write_text",
           "create_private_file", "make_private_dirs", "os_error_line"]

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_SHARED_FILE = 0o644  # before the umask
_TRIES = 16


def _reraise_for(exc: OSError, final: Path) -> OSError:
    """The same error, naming ``final`` instead of the temporary file."""
    return OSError(exc.errno, exc.strerror or str(exc), str(final))


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` sets it briefly,
    which another thread creating a file at that instant would see)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    umask = os.umask(0o077)
    os.umask(umask)
    return umask


def _file_mode(shared: bool) -> int:
    return _SHARED_FILE & ~_umask() if shared else PRIVATE_FILE


def _create_temp(final: Path, mode: int) -> Path:
    """Create an empty, exclusive temporary file beside ``final`` with exactly ``mode``."""
    for _ in range(_TRIES):
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & PRIVATE_FILE)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        return tmp
    raise OSError(errno.EEXIST, "cannot create a temporary file", str(final))


def make_private_dirs(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and any missing parents, each new folder exactly ``0700``; return ``Path(path)``.

    Folders that exist already are left as they are (a user's own folder keeps its mode).
    """
    p = Path(path)
    missing = []
    q = p
    while not q.exists() and q.parent != q:
        missing.append(q)
        q = q.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(d, PRIVATE_DIR)
    if not p.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "is not a folder", str(p))
    return p


def create_private_file(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` empty and owner-only (``0600``) if it does not exist; an existing file is made
    owner-only. For writers that open their file by name (h5py, SQLite) after this call."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE)
    try:
        os.fchmod(fd, PRIVATE_FILE)
    finally:
        os.close(fd)
    return p


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, make_parents: bool = False,
                shared: bool = False) -> Iterator[Path]:
    """Give a temporary path beside ``path``; rename it to ``path`` when the block succeeds.

    Parameters
    ----------
    path
        Final destination (a file name, not a folder).
    make_parents
        Create missing parent folders first, ``0700`` (default: a missing folder is an error).
    shared
        ``0644 & ~umask`` instead of owner-only ``0600`` (model weights only: no patient data).

    Yields
    ------
    Path
        An existing empty file in the same folder, to be overwritten by the caller by path. Its
        mode is set again before the rename, so a writer that replaces the file cannot widen it.

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
            make_private_dirs(final.parent)
        mode = _file_mode(shared)
        tmp = _create_temp(final, mode)
    except OSError as exc:
        raise _reraise_for(exc, final) from None
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _reraise_for(exc, final) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, make_parents: bool = False,
                       shared: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return ``Path(path)``."""
    with atomic_path(path, make_parents=make_parents, shared=shared) as tmp, open(tmp, "wb") as f:
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
