"""Checks shared by the sub-commands: output locations, same-file refusals, one-line OS errors.

Exit-code convention (every sub-command): 2 unusable input or unusable output location,
1 a failure during the work, 3 no face / a refusal. Output locations are checked *before* the
work starts, so a long evaluation or training never ends in "cannot write".
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from facelens.cli import UsageError
from facelens.core.common.atomic import os_error_line

__all__ = ["check_output_dir", "check_output_file", "refuse_same_file", "require_models", "usage_from_os_error"]


def _probe(folder: Path, what: Path) -> None:
    """Create and delete a scratch file in ``folder`` (``os.access`` says yes to root even on /proc)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise UsageError(f"cannot write {what}: {exc.strerror or exc}") from None


def check_output_file(path: str | os.PathLike[str], flag: str = "output") -> Path:
    """A file that can be written: not a folder, in an existing, writable folder.

    Raises
    ------
    UsageError
        One line naming ``flag`` and the path.
    """
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"{flag} {p} is a folder; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"cannot write {p}: folder {parent} does not exist")
    _probe(parent, p)
    return p


def check_output_dir(path: str | os.PathLike[str], flag: str = "--out") -> Path:
    """A folder that exists and is writable, or can be created (nothing is created here).

    Raises
    ------
    UsageError
        The path is a file, or neither it nor its nearest existing parent can be written.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UsageError(f"{flag} {p} is a file; give a folder")
    ancestor = p
    while not ancestor.exists():
        if ancestor.parent == ancestor:
            break
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot create {p}: {ancestor} is not a folder")
    _probe(ancestor, p)
    return p


def refuse_same_file(source: str | os.PathLike[str], output: str | os.PathLike[str]) -> None:
    """``UsageError`` when ``output`` is the input file itself (which the write would destroy)."""
    try:
        same = os.path.samefile(source, output)
    except OSError:  # one of them does not exist: cannot be the same file
        return
    if same:
        raise UsageError(f"the output {output} is the input file itself; give another name")


def usage_from_os_error(exc: OSError, action: str = "cannot write") -> UsageError:
    """An unwritable output as a one-line ``UsageError`` (exit 2) naming the final path."""
    return UsageError(os_error_line(exc, action))


def require_models() -> None:
    """Every model an analysis loads is present and matches its SHA-256, else ``UsageError`` (exit 2),
    checked before the video is opened or any model starts (:mod:`facelens.core.analysis.preflight`)."""
    from facelens.core.analysis.preflight import check_models, model_error_line
    from facelens.core.registry import ModelError

    try:
        check_models()
    except ModelError as exc:
        raise UsageError(model_error_line(exc)) from None
