"""Segment label sets: names, colours, line styles and session scenarios (Qt-free).

The GUI plots, the segment table and the PDF report draw labels with the same colours by asking
this module. Defaults live in ``resources/labels.toml`` (happy / sad / neutral, Paul Tol's
high-contrast colours: colour-blind safe and readable in greyscale); a user file overrides them.

Public API
----------
``LabelStyle``            one label: ``name``, ``colour`` (``#RRGGBB``), ``dash``, ``hatch``,
                          ``description``;
                          ``rgb`` (0..1 floats), ``grey`` (Rec. 601 luminance, 0..1).
``LabelSet``              ``labels`` (tuple of LabelStyle, in display order), ``names``,
                          ``scenarios``, ``overlap`` (segments of different labels overlapping:
                          "refuse", "flag" or "allow"; top-level key ``overlap``),
                          ``style(name)``, ``colour(name)``, ``rgb(name)``.
``load_label_set(user_file=None)``  defaults + user overrides; raises :class:`LabelSetError`.
``default_label_set()``   cached ``load_label_set()`` (the one the app uses).
``label_color(name)``     shortcut: ``default_label_set().colour(name)``.
``simulate_cvd(rgb, kind)``, ``delta_e(rgb1, rgb2)``  colour-vision-deficiency simulation (Machado et
                          al. 2009) and CIE76 difference, to check that a label set stays distinct.

User file lookup (first found): the ``user_file`` argument, ``$FACELENS_LABELS``,
``$XDG_CONFIG_HOME/facelens/labels.toml`` (``~/.config/facelens/labels.toml``). It uses the same
keys as the default file; only what it names changes. ``replace = true`` at its top level drops the
default labels. Unknown labels (e.g. from an imported CSV) get a stable colour from Tol's muted
scheme (the same label always gets the same colour) and a dash-dot line.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
DASHES = ("solid", "dash", "dot", "dashdot")
_HATCH_CHARS = set("/\\|-+xoO.*")
OVERLAP_RULES = ("refuse", "flag", "allow")

# Same values as resources/labels.toml (tests check they agree); used only when the resources folder
# is not shipped next to the package, so that the app still starts with sensible colours.
_BUILTIN: dict[str, Any] = {
    "scenarios": ["elicitation video", "conversation", "other"],
    "overlap": "refuse",
    "labels": {
        "happy": {"colour": "#DDAA33", "dash": "solid", "hatch": ""},
        "sad": {"colour": "#004488", "dash": "dash", "hatch": "//"},
        "neutral": {"colour": "#777777", "dash": "dot", "hatch": ".."},
        "exclude": {"colour": "#000000", "dash": "dashdot", "hatch": "xx"},
    },
}
# Colours for labels no file names: mid-luminance, distinct from the three defaults.
_UNKNOWN_COLOURS = ("#BB5566", "#44AA99", "#AA4499", "#999933")


class LabelSetError(ValueError):
    """A label file that cannot be used (one-line message)."""


@dataclass(frozen=True)
class LabelStyle:
    """How one segment label is drawn."""

    name: str
    colour: str  # "#RRGGBB"
    dash: str = "solid"
    description: str = ""
    hatch: str = ""  # matplotlib-style fill pattern for printed segment bands ("" = plain)

    @property
    def rgb(self) -> tuple[float, float, float]:
        """Colour as three floats in 0..1."""
        h = self.colour.lstrip("#")
        return (int(h[0:2], 16) / 255.0, int(h[2:4], 16) / 255.0, int(h[4:6], 16) / 255.0)

    @property
    def grey(self) -> float:
        """Luminance in 0..1 (Rec. 601 weights), i.e. how light it prints in greyscale."""
        r, g, b = self.rgb
        return 0.299 * r + 0.587 * g + 0.114 * b


@dataclass(frozen=True)
class LabelSet:
    """The labels offered for annotation, in display order, and the session scenarios."""

    labels: tuple[LabelStyle, ...]
    scenarios: tuple[str, ...]
    source: str = "built-in"
    overlap: str = "refuse"  # segments of different labels overlapping: "refuse", "flag" or "allow"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.labels)

    def style(self, name: str) -> LabelStyle:
        """Style of ``name`` (case-insensitive); unknown names get a stable fallback colour."""
        key = name.strip().lower()
        for s in self.labels:
            if s.name.lower() == key:
                return s
        digest = int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16)
        return LabelStyle(name=name, colour=_UNKNOWN_COLOURS[digest % len(_UNKNOWN_COLOURS)], dash="dashdot")

    def colour(self, name: str) -> str:
        return self.style(name).colour

    def rgb(self, name: str) -> tuple[float, float, float]:
        return self.style(name).rgb


# Machado, Oliveira & Fernandes (2009), "A physiologically-based model for simulation of color vision
# deficiency", IEEE TVCG 15(6):1291-1298: severity-1.0 dichromat matrices, applied to linear RGB.
_CVD_MATRICES: dict[str, tuple[tuple[float, float, float], ...]] = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}
CVD_KINDS = tuple(_CVD_MATRICES)


def _to_linear(c: float) -> float:  # sRGB transfer function (IEC 61966-2-1)
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _to_srgb(c: float) -> float:
    c = min(max(c, 0.0), 1.0)
    return 12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055


def simulate_cvd(rgb: tuple[float, float, float], kind: str) -> tuple[float, float, float]:
    """How an sRGB colour (0..1 floats) looks to a dichromat (``CVD_KINDS``), Machado et al. 2009."""
    m = _CVD_MATRICES[kind]
    lin = [_to_linear(c) for c in rgb]
    out = [sum(m[i][j] * lin[j] for j in range(3)) for i in range(3)]
    return (_to_srgb(out[0]), _to_srgb(out[1]), _to_srgb(out[2]))


def lab(rgb: tuple[float, float, float]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour given as 0..1 floats."""
    r, g, b = (_to_linear(c) for c in rgb)
    xyz = (0.4124 * r + 0.3576 * g + 0.1805 * b, 0.2126 * r + 0.7152 * g + 0.0722 * b,
           0.0193 * r + 0.1192 * g + 0.9505 * b)
    white = (0.95047, 1.0, 1.08883)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = (f(v / w) for v, w in zip(xyz, white))
    return (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))


def delta_e(rgb1: tuple[float, float, float], rgb2: tuple[float, float, float]) -> float:
    """CIE76 colour difference (about 2.3 is just noticeable; Sharma 2003, Digital Color Imaging)."""
    l1, l2 = lab(rgb1), lab(rgb2)
    return float(sum((a - b) ** 2 for a, b in zip(l1, l2)) ** 0.5)


def resources_dir() -> Path | None:
    """The ``resources`` folder (or ``$FACELENS_RESOURCES``), if present."""
    from facelens.core.common.paths import resources_dir as _resources_dir

    try:
        return _resources_dir()
    except FileNotFoundError:
        return None


def user_labels_file() -> Path | None:
    """The user's override file, if one exists."""
    env = os.environ.get("FACELENS_LABELS")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    p = Path(base) / "facelens" / "labels.toml"
    return p if p.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise LabelSetError(f"label file not found: {path}") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LabelSetError(f"cannot read label file {path.name}: {msg}") from None


def _style(name: str, entry: Any, base: LabelStyle | None, source: str) -> LabelStyle:
    if not isinstance(entry, dict):
        raise LabelSetError(f"{source}: [labels.{name}] must be a table")
    style = base or LabelStyle(name=name, colour="", dash="solid")
    style = replace(
        style,
        colour=str(entry.get("colour", entry.get("color", style.colour))),
        dash=str(entry.get("dash", style.dash)),
        description=str(entry.get("description", style.description)),
        hatch=str(entry.get("hatch", style.hatch)),
    )
    if not _HEX.match(style.colour):
        raise LabelSetError(f"{source}: label {name!r} needs colour = \"#RRGGBB\" (got {style.colour!r})")
    if style.dash not in DASHES:
        raise LabelSetError(f"{source}: label {name!r} dash must be one of {', '.join(DASHES)}")
    if not set(style.hatch) <= _HATCH_CHARS:
        raise LabelSetError(f"{source}: label {name!r} hatch may only use the characters / \\ | - + x o O . *")
    return style


def _merge(base: LabelSet | None, data: dict[str, Any], source: str) -> LabelSet:
    labels_in = data.get("labels", {})
    if not isinstance(labels_in, dict):
        raise LabelSetError(f"{source}: 'labels' must be a table of [labels.NAME] entries")
    keep_defaults = base is not None and not bool(data.get("replace", False))
    styles: dict[str, LabelStyle] = {s.name: s for s in base.labels} if (base and keep_defaults) else {}
    for name, entry in labels_in.items():
        if not str(name).strip():
            raise LabelSetError(f"{source}: empty label name")
        styles[name] = _style(name, entry, styles.get(name), source)
    if not styles:
        raise LabelSetError(f"{source}: no labels defined")
    scen = data.get("scenarios", list(base.scenarios) if base else [])
    if not isinstance(scen, list) or not all(isinstance(s, str) and s.strip() for s in scen):
        raise LabelSetError(f"{source}: 'scenarios' must be a list of non-empty strings")
    overlap = str(data.get("overlap", base.overlap if base else "refuse")).strip().lower()
    if overlap not in OVERLAP_RULES:
        raise LabelSetError(f"{source}: 'overlap' must be one of {', '.join(OVERLAP_RULES)}, got {overlap!r}")
    return LabelSet(labels=tuple(styles.values()), scenarios=tuple(scen), source=source, overlap=overlap)


def load_label_set(user_file: str | Path | None = None) -> LabelSet:
    """Default labels overridden by the user's file.

    Parameters
    ----------
    user_file : str or Path, optional
        Override file; if omitted, :func:`user_labels_file` is used (none is fine).

    Returns
    -------
    LabelSet

    Raises
    ------
    LabelSetError
        A file that is unreadable or has bad entries (one-line message).
    """
    res = resources_dir()
    default_file = res / "labels.toml" if res else None
    if default_file is not None and default_file.is_file():
        base = _merge(None, _read_toml(default_file), default_file.name)
    else:
        base = _merge(None, _BUILTIN, "built-in")
    path = Path(user_file) if user_file is not None else user_labels_file()
    if path is None:
        return base
    return _merge(base, _read_toml(path), path.name)


@functools.lru_cache(maxsize=1)
def default_label_set() -> LabelSet:
    """The label set the app uses (loaded once; call ``default_label_set.cache_clear()`` to reload)."""
    return load_label_set()


def label_color(name: str) -> str:
    """``#RRGGBB`` colour of a label, the same in the GUI and the report."""
    return default_label_set().colour(name)
