"""The per-analysis results file (HDF5, schema version 1): writer and reader.

One HDF5 file holds every per-frame array of one analysis run (schema in
``docs/architecture.md``). The writer streams batches to ``NAME.h5.partial`` and renames
it to ``NAME.h5`` only in :meth:`ResultsWriter.finish`, so a crash never leaves a file that
looks complete. After each batch it flushes and records ``n_done``; a later
``ResultsWriter(..., resume=True)`` truncates the partial file to ``n_done`` frames and
carries on appending from there.
"""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.types import N_LANDMARKS, QUALITY_LABELS, Quality, is_usable

SCHEMA_VERSION = 1
PARTIAL_SUFFIX = ".partial"
_ROWS_PER_CHUNK = 1024  # small columns: one chunk ~ 100 s of a session at 10 fps
_LANDMARK_ROWS_PER_CHUNK = 16  # ~92 kB per chunk keeps the GUI's single-frame reads cheap
_JSON_KEYS_ATTR = "json_keys"


class ResultsError(Exception):
    """A results file that cannot be used (missing, corrupt, incomplete); one-line message."""


def partial_path(path: str | os.PathLike[str]) -> Path:
    """Where the writer keeps an unfinished results file for ``path``."""
    p = Path(path)
    return p.with_name(p.name + PARTIAL_SUFFIX)


def _column_specs(n_expr: int, n_emo: int | None) -> dict[str, tuple[tuple[int, ...], str, Any]]:
    """Per-frame datasets: name -> (trailing shape, dtype, fill value for missing columns)."""
    nan = np.nan
    specs: dict[str, tuple[tuple[int, ...], str, Any]] = {
        "time_s": ((), "f8", None),  # None: the column is required
        "frame_index": ((), "i8", None),
        "quality": ((), "u1", None),
        "n_faces": ((), "u1", 0),
        "confidence": ((), "f4", nan),
        "blur": ((), "f4", nan),
        "bbox": ((4,), "f4", nan),
        "landmarks": ((N_LANDMARKS, 3), "f4", nan),
        "euler": ((3,), "f4", nan),
        "rotation": ((3, 3), "f4", nan),
        "translation": ((3,), "f4", nan),
        "scale": ((), "f4", nan),
        "expressions": ((n_expr,), "f4", nan),
        "valence": ((), "f4", nan),
        "arousal": ((), "f4", nan),
    }
    if n_emo is not None:
        specs["emotions"] = ((n_emo,), "f4", nan)
    return specs


def _set_meta(attrs: Any, meta: dict[str, Any]) -> None:
    """Store ``meta`` as root attributes; dicts and lists become JSON strings."""
    json_keys = set(json.loads(attrs.get(_JSON_KEYS_ATTR, "[]")))
    for key, value in meta.items():
        if value is None:
            continue
        if isinstance(value, (dict, list, tuple)):
            attrs[key] = json.dumps(value, default=str)
            json_keys.add(key)
        else:
            attrs[key] = str(value) if isinstance(value, os.PathLike) else value
            json_keys.discard(key)
    attrs[_JSON_KEYS_ATTR] = json.dumps(sorted(json_keys))


def _read_meta(attrs: Any) -> dict[str, Any]:
    json_keys = set(json.loads(attrs.get(_JSON_KEYS_ATTR, "[]"))) | {"params", "models"}
    meta: dict[str, Any] = {}
    for key, value in attrs.items():
        if key == _JSON_KEYS_ATTR:
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if isinstance(value, np.generic):
            value = value.item()
        if key in json_keys and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ResultsError(f"attribute {key!r} is not valid JSON: {exc}") from None
        meta[key] = value
    return meta


class ResultsWriter:
    """Stream per-frame column batches into ``PATH.partial``; :meth:`finish` renames to ``PATH``.

    Parameters
    ----------
    path
        Final results file (``.h5``).
    meta
        Root attributes (video path, SHA-256, duration, fps, size, params, models, ...).
    expression_names
        Names of the expression measures (columns of ``expressions``).
    emotion_labels
        Emotion class labels; ``None`` stores no ``emotions`` dataset.
    resume
        Reopen an existing ``PATH.partial`` and continue after its ``n_done`` frames.
        Raises :class:`ResultsError` if there is none or it does not match.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: dict[str, Any],
        *,
        expression_names: Sequence[str],
        emotion_labels: Sequence[str] | None = None,
        resume: bool = False,
    ) -> None:
        import h5py

        self.path = Path(path)
        self.partial = partial_path(self.path)
        self._names = [str(n) for n in expression_names]
        self._labels = None if emotion_labels is None else [str(n) for n in emotion_labels]
        if not self._names or (self._labels is not None and not self._labels):
            raise ValueError("expression_names and emotion_labels must not be empty")
        self._specs = _column_specs(len(self._names), None if self._labels is None else len(self._labels))
        self._file: Any = None
        if resume:
            self._file = self._reopen(meta)
        else:
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            try:
                self._file = h5py.File(self.partial, "w")
            except OSError as exc:
                raise ResultsError(f"cannot create {self.partial}: {exc}") from None
            self._create(meta)
        self.n_done: int = int(self._file.attrs["n_done"])

    # -- creation / resumption -------------------------------------------------------------
    def _create(self, meta: dict[str, Any]) -> None:
        from facelens import __version__

        f = self._file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["complete"] = False
        f.attrs["n_done"] = 0
        f.attrs["facelens_version"] = __version__
        f.attrs["demo"] = False
        _set_meta(f.attrs, meta)
        frames = f.create_group("frames")
        for name, (shape, dtype, fill) in self._specs.items():
            rows = _LANDMARK_ROWS_PER_CHUNK if name == "landmarks" else _ROWS_PER_CHUNK
            frames.create_dataset(
                name,
                shape=(0, *shape),
                maxshape=(None, *shape),
                dtype=dtype,
                chunks=(rows, *shape),
                compression="lzf" if name == "landmarks" else None,
                fillvalue=fill if fill is not None else 0,
            )
        frames["expressions"].attrs["names"] = json.dumps(self._names)
        if self._labels is not None:
            frames["emotions"].attrs["names"] = json.dumps(self._labels)
        f.flush()

    def _reopen(self, meta: dict[str, Any]) -> Any:
        import h5py

        if not self.partial.exists():
            raise ResultsError(f"nothing to resume: {self.partial} does not exist")
        try:
            f = h5py.File(self.partial, "r+")
        except OSError as exc:
            raise ResultsError(f"cannot resume {self.partial} (corrupt?): {exc}") from None
        try:
            if int(f.attrs.get("schema_version", -1)) != SCHEMA_VERSION or "frames" not in f:
                raise ResultsError(f"cannot resume {self.partial}: not a schema-{SCHEMA_VERSION} results file")
            old_sha = f.attrs.get("video_sha256")
            if meta.get("video_sha256") and old_sha and old_sha != meta["video_sha256"]:
                raise ResultsError(f"cannot resume {self.partial}: it was made from a different video")
            if json.loads(f["frames/expressions"].attrs["names"]) != self._names:
                raise ResultsError(f"cannot resume {self.partial}: expression measures differ")
            has_emo = "emotions" in f["frames"]
            if has_emo != (self._labels is not None) or (
                has_emo and json.loads(f["frames/emotions"].attrs["names"]) != self._labels
            ):
                raise ResultsError(f"cannot resume {self.partial}: emotion labels differ")
            # Frames beyond n_done may be half written: drop them.
            n = min([int(f.attrs.get("n_done", 0))] + [len(d) for d in f["frames"].values()])
            for dset in f["frames"].values():
                dset.resize(n, axis=0)
            f.attrs["n_done"] = n
            _set_meta(f.attrs, meta)
            f.flush()
        except BaseException:
            f.close()
            raise
        return f

    # -- writing -----------------------------------------------------------------------------
    def append(self, columns: dict[str, np.ndarray]) -> None:
        """Append a batch of B frames (``time_s``, ``frame_index``, ``quality`` required)."""
        if self._file is None:
            raise ResultsError("results writer is closed")
        unknown = set(columns) - set(self._specs)
        if unknown:
            raise ValueError(f"unknown results columns: {sorted(unknown)}")
        missing = [k for k, (_, _, fill) in self._specs.items() if fill is None and k not in columns]
        if missing:
            raise ValueError(f"missing required results columns: {missing}")
        n_rows = len(np.asarray(columns["time_s"]))
        if n_rows == 0:
            return
        arrays: dict[str, np.ndarray] = {}
        for name, (shape, dtype, fill) in self._specs.items():
            if name in columns:
                arr = np.asarray(columns[name], dtype=dtype)
                if arr.shape != (n_rows, *shape):
                    raise ValueError(f"column {name!r} has shape {arr.shape}, expected {(n_rows, *shape)}")
            else:
                arr = np.full((n_rows, *shape), fill, dtype=dtype)
            arrays[name] = arr
        frames = self._file["frames"]
        start, stop = self.n_done, self.n_done + n_rows
        for name, arr in arrays.items():
            frames[name].resize(stop, axis=0)
            frames[name][start:stop] = arr
        # Data first, then the counter: after a crash n_done never counts unwritten rows.
        self._file.flush()
        self._file.attrs["n_done"] = stop
        self._file.flush()
        self.n_done = stop

    def truncate(self, n: int) -> None:
        """Drop frames from ``n`` on (a resume that restarts at an earlier checkpoint)."""
        if self._file is None:
            raise ResultsError("results writer is closed")
        n = max(0, min(int(n), self.n_done))
        for dset in self._file["frames"].values():
            dset.resize(n, axis=0)
        self._file.attrs["n_done"] = n
        self._file.flush()
        self.n_done = n

    def finish(self, extra_meta: dict[str, Any] | None = None) -> Path:
        """Mark the file complete, close it and rename ``PATH.partial`` to ``PATH``."""
        if self._file is None:
            raise ResultsError("results writer is closed")
        if extra_meta:
            _set_meta(self._file.attrs, extra_meta)
        self._file.attrs["n_done"] = self.n_done
        self._file.attrs["complete"] = True
        self._file.close()
        self._file = None
        os.replace(self.partial, self.path)
        return self.path

    def close(self) -> None:
        """Stop without finishing; ``PATH.partial`` stays for a later resume."""
        if self._file is not None:
            try:
                self._file.flush()
            finally:
                self._file.close()
                self._file = None

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()



class SessionResults:
    """Read-only view of a finished results file (use :meth:`open`; a context manager).

    Every per-frame column except the landmarks is read into memory at once (a one-hour
    session at 10 fps is ~15 MB of them); landmarks (5.7 kB a frame) are read lazily.
    """

    _FRAME_ARRAYS = ("time_s", "frame_index", "quality", "n_faces", "confidence", "blur", "scale",
                     "euler", "translation", "rotation", "bbox", "expressions", "valence", "arousal")

    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self._file = handle
        self.meta: dict[str, Any] = _read_meta(handle.attrs)
        frames = handle["frames"]
        n = int(self.meta.get("n_done", len(frames["time_s"])))
        self.n_frames: int = n
        for name in self._FRAME_ARRAYS:
            setattr(self, name, frames[name][:n])
        self.expression_names: list[str] = list(json.loads(frames["expressions"].attrs["names"]))
        self.emotions: np.ndarray | None = frames["emotions"][:n] if "emotions" in frames else None
        self.emotion_labels: list[str] = (
            list(json.loads(frames["emotions"].attrs["names"])) if "emotions" in frames else []
        )
        self.usable: np.ndarray = is_usable(self.quality)
        self._landmarks = frames["landmarks"]

    # Attributes filled in __init__ (declared for type checkers and readers).
    time_s: np.ndarray
    frame_index: np.ndarray
    quality: np.ndarray
    n_faces: np.ndarray
    confidence: np.ndarray
    blur: np.ndarray
    scale: np.ndarray
    euler: np.ndarray
    translation: np.ndarray
    rotation: np.ndarray
    bbox: np.ndarray
    expressions: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> SessionResults:
        """Open a complete results file; raises :class:`ResultsError` with a one-line reason."""
        import h5py

        p = Path(path)
        if not p.exists():
            if partial_path(p).exists():
                raise ResultsError(f"{p} is not finished (an interrupted analysis left {p.name}.partial; "
                                   "run analyze again with --resume)")
            raise ResultsError(f"results file not found: {p}")
        if p.is_dir():
            raise ResultsError(f"{p} is a folder, not a results file")
        try:
            handle = h5py.File(p, "r")
        except OSError:
            raise ResultsError(f"{p} is not a FaceLens results file (not HDF5 or corrupt)") from None
        try:
            version = handle.attrs.get("schema_version")
            if version is None or "frames" not in handle:
                raise ResultsError(f"{p} is not a FaceLens results file (no schema_version)")
            if int(version) != SCHEMA_VERSION:
                raise ResultsError(f"{p} has results schema {int(version)}; this FaceLens reads {SCHEMA_VERSION}")
            if not bool(handle.attrs.get("complete", False)) or p.name.endswith(PARTIAL_SUFFIX):
                raise ResultsError(f"{p} is incomplete (the analysis did not finish)")
            return cls(p, handle)
        except ResultsError:
            handle.close()
            raise
        except (KeyError, OSError, ValueError) as exc:
            handle.close()
            raise ResultsError(f"{p} is corrupt: {exc}") from None

    # -- metadata ----------------------------------------------------------------------------
    @property
    def is_demo(self) -> bool:
        return bool(self.meta.get("demo", False))

    @property
    def video_sha256(self) -> str:
        return str(self.meta.get("video_sha256", ""))

    @property
    def duration_s(self) -> float:
        return float(self.meta.get("duration_s", float("nan")))

    @property
    def native_fps(self) -> float:
        return float(self.meta.get("native_fps", float("nan")))

    @property
    def width(self) -> int:
        return int(self.meta.get("width", 0))

    @property
    def height(self) -> int:
        return int(self.meta.get("height", 0))

    @property
    def params(self) -> dict[str, Any]:
        value = self.meta.get("params", {})
        return value if isinstance(value, dict) else {}

    @property
    def models(self) -> list[dict[str, Any]]:
        value = self.meta.get("models", [])
        return value if isinstance(value, list) else []

    # -- frames ------------------------------------------------------------------------------
    def landmarks(self, sel: int | slice | np.ndarray) -> np.ndarray:
        """Landmarks in image pixels: ``(478, 3)`` for an int, ``(n, 478, 3)`` otherwise."""
        if self._file is None:
            raise ResultsError(f"{self.path} is closed")
        if isinstance(sel, (int, np.integer)):
            i = int(sel) + (self.n_frames if sel < 0 else 0)
            if not 0 <= i < self.n_frames:
                raise IndexError(f"frame {sel} out of range (0..{self.n_frames - 1})")
            return self._landmarks[i]
        if isinstance(sel, slice):
            return self._landmarks[slice(*sel.indices(self.n_frames))]
        idx = np.asarray(sel)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = idx.astype(np.int64)
        if idx.size == 0:
            return np.empty((0, N_LANDMARKS, 3), np.float32)
        # h5py fancy indexing needs increasing unique indices: read those, then reorder.
        uniq, inverse = np.unique(idx, return_inverse=True)
        return self._landmarks[uniq][inverse]

    def posefree_mesh(self, i: int) -> np.ndarray:
        """Frame ``i``'s mesh with the rigid head pose removed: ``R^T (x - t) / s``.

        The stored pose maps the template to the image (``x = s R p + t``), so undoing it
        leaves the expression-only shape in template units. NaN when the frame has no face.
        """
        lm = self.landmarks(i).astype(np.float64)
        rot = self.rotation[i].astype(np.float64)
        s = float(self.scale[i])
        if not np.isfinite(s) or s == 0.0:
            return np.full((N_LANDMARKS, 3), np.nan)
        return (lm - self.translation[i]) @ rot / s

    def discard_counts(self) -> dict[str, int]:
        """Unusable frames per reason (``QUALITY_LABELS``), zero counts included."""
        counts = np.bincount(self.quality.astype(np.int64), minlength=len(Quality))
        return {QUALITY_LABELS[q]: int(counts[q]) for q in Quality if not is_usable(np.array(int(q)))}

    def frame_at_time(self, t: float) -> int:
        """Index of the sampled frame nearest to time ``t`` (clamped to the session)."""
        if self.n_frames == 0:
            raise ResultsError(f"{self.path} has no frames")
        j = int(np.searchsorted(self.time_s, t))
        if j <= 0:
            return 0
        if j >= self.n_frames:
            return self.n_frames - 1
        return j if (self.time_s[j] - t) < (t - self.time_s[j - 1]) else j - 1

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> SessionResults:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SessionResults({str(self.path)!r}, n_frames={self.n_frames})"
