"""Where the project's data folders are, from a source checkout or an installed wheel.

The design card keeps ``resources/`` (label sets, styles, icons, demo script) and ``models/``
(model manifest, model cards, the shipped reference model) at the top of the repository. A
wheel installs them under ``<prefix>/share/facelens/`` (``[tool.setuptools.data-files]`` in
pyproject.toml). ``FACELENS_RESOURCES`` / ``FACELENS_MODELS_SRC`` override both.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

_REPO = Path(__file__).resolve().parents[3]


def _first_dir(env: str, name: str) -> Path:
    candidates: list[Path] = []
    if os.environ.get(env):
        candidates.append(Path(os.environ[env]).expanduser())
    candidates.append(_REPO / name)
    candidates.append(Path(sys.prefix) / "share" / "facelens" / name)
    for c in candidates:
        if c.is_dir():
            return c
    tried = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(f"FaceLens data folder '{name}' not found (looked in: {tried}); reinstall FaceLens")


def resources_dir() -> Path:
    """The ``resources`` folder (label sets, style, icons, demo script)."""
    return _first_dir("FACELENS_RESOURCES", "resources")


def models_src_dir() -> Path:
    """The ``models`` folder shipped with the software (manifest, cards, reference model)."""
    return _first_dir("FACELENS_MODELS_SRC", "models")


def user_path(text: str | os.PathLike[str]) -> Path:
    """A path a person typed, with ``~`` / ``~name`` expanded as a shell does: a ``~name`` whose
    user does not exist stays as written (``Path.expanduser`` raises RuntimeError there)."""
    p = Path(text)
    try:
        return p.expanduser()
    except RuntimeError:
        return p
