"""Typed application settings: one table of keys, one reader per key (Qt-free).

The GUI keeps its preferences in ``QSettings``; every module used to read string-literal keys
(``"annotation/author"``) and convert the value itself, and a one-entry list came back from INI files
as a plain string. :class:`AppSettings` wraps any store with ``value(key, default)`` /
``setValue(key, value)`` (``QSettings`` has both) and gives each setting a type, a default and a
single conversion.

Public API
----------
``AppSettings(store)``   attributes: ``device``, ``va_estimator``, ``reconstruction``, ``author``, ``clinician``, ``model_path``,
                         ``report_dir``, ``report_page_size``, ``report_no_identifying``,
                         ``report_use_model``, ``recent_workspaces``, ``last_workspace``,
                         ``last_session``, ``last_playhead``, ``face_texture``, ``face_mesh``,
                         ``window_geometry``, ``window_state``
``KEYS``                 attribute name -> store key (the only place keys are spelled)
``DEVICES``              the analysis device choices
``MESH_MODES``           the 3D view's mesh choices (``face_mesh``)
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from facelens.core.affect.choice import DEFAULT_ESTIMATOR, ESTIMATORS
from facelens.core.common.devices import DEVICE_CHOICES as DEVICES

VA_ESTIMATORS = ESTIMATORS  # facelens analyze --va
RECONSTRUCTIONS = ("fit", "asmv2l")  # facelens analyze --reconstruction (the shipped AsmV2L weights)
#: The 3D view's mesh: the tracked one, or the morphable model's (render.model_meshes.MODEL_MODES).
MESH_MODES = ("tracked", "reconstruction", "expression", "neutral")
MAX_RECENT = 8


class SettingsStore(Protocol):
    """What :class:`AppSettings` needs from its back-end (``QSettings`` fits)."""

    def value(self, key: str, defaultValue: Any = None) -> Any: ...

    def setValue(self, key: str, value: Any) -> None: ...


def _text(v: Any, default: str) -> str:
    return default if v is None or v == "" else str(v)


def _flag(v: Any, default: bool) -> bool:
    if isinstance(v, bool):
        return v
    if v is None or v == "":
        return default
    return str(v).strip().lower() in ("true", "1", "yes")


def _strings(v: Any, default: list[str]) -> list[str]:
    # INI and native back-ends hand a one-entry list back as a plain string.
    if v is None or v == "":
        return list(default)
    items = [v] if isinstance(v, str) else list(v)
    return [str(x) for x in items if str(x)]


def _optional_int(v: Any, default: int | None) -> int | None:
    try:
        return int(v) if v not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _float(v: Any, default: float) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return default
    return x if math.isfinite(x) else default


def _raw(v: Any, default: Any) -> Any:
    return default if v is None else v


class _Setting:
    """Descriptor: one key, its default and its conversion."""

    def __init__(self, key: str, default: Any, convert: Callable[[Any, Any], Any],
                 store_as: Callable[[Any], Any] | None = None) -> None:
        self.key, self.default, self.convert = key, default, convert
        self.store_as = store_as or (lambda v: v)

    def __set_name__(self, owner: type, name: str) -> None:
        KEYS[name] = self.key

    def __get__(self, obj: AppSettings | None, owner: type) -> Any:
        if obj is None:
            return self
        return self.convert(obj.store.value(self.key), self.default)

    def __set__(self, obj: AppSettings, value: Any) -> None:
        obj.store.setValue(self.key, self.store_as(value))


KEYS: dict[str, str] = {}


def _device(v: Any, default: str) -> str:
    s = _text(v, default)
    return s if s in DEVICES else default


def _choice(choices: tuple[str, ...]) -> Callable[[Any, str], str]:
    def read(v: Any, default: str) -> str:
        s = _text(v, default)
        return s if s in choices else default
    return read


def _bool_text(v: Any) -> str:
    return "true" if v else "false"


class AppSettings:
    """Typed view of the preferences store (reads and writes through; nothing is cached)."""

    device = _Setting("analysis/device", "auto", _device)
    va_estimator = _Setting("analysis/va", DEFAULT_ESTIMATOR, _choice(VA_ESTIMATORS))
    reconstruction = _Setting("analysis/reconstruction", "fit", _choice(RECONSTRUCTIONS))
    author = _Setting("annotation/author", "", _text, lambda v: str(v).strip())
    clinician = _Setting("report/clinician", "", _text, lambda v: str(v).strip())
    model_path = _Setting("diagnosis/model", "", _text, str)
    report_dir = _Setting("report/dir", "", _text, str)
    report_page_size = _Setting("report/page_size", "A4", _text, str)
    report_no_identifying = _Setting("report/no_identifying", False, _flag, _bool_text)
    report_use_model = _Setting("report/use_model", True, _flag, _bool_text)
    recent_workspaces = _Setting("recent/workspaces", [], _strings, list)
    last_workspace = _Setting("recent/last", "", _text, str)
    last_session = _Setting("recent/session", None, _optional_int, lambda v: "" if v is None else int(v))
    last_playhead = _Setting("recent/playhead", 0.0, _float, float)
    face_texture = _Setting("view/face_texture", True, _flag, _bool_text)  # the video frame on the 3D face
    face_mesh = _Setting("view/face_mesh", "tracked", _choice(MESH_MODES))  # which mesh the 3D view shows
    window_geometry = _Setting("window/geometry", None, _raw)
    window_state = _Setting("window/state", None, _raw)

    def __init__(self, store: SettingsStore) -> None:
        self.store = store

    def remember_workspace(self, folder: str) -> list[str]:
        """Put ``folder`` first in the recent list (at most ``MAX_RECENT``); returns the new list."""
        recent = [folder] + [x for x in self.recent_workspaces if x != folder][: MAX_RECENT - 1]
        self.recent_workspaces = recent
        self.last_workspace = folder
        return recent

    def sync(self) -> None:
        sync = getattr(self.store, "sync", None)
        if callable(sync):
            sync()
