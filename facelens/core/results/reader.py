"""Reads a complete results file: metadata, per-frame columns, meshes, frame lookup by time."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.types import N_LANDMARKS, QUALITY_LABELS, Quality, is_usable
from facelens.core.results.schema import (
    PARTIAL_SUFFIX, READABLE_SCHEMAS, ResultsError, read_meta, partial_path)


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
        self.meta: dict[str, Any] = read_meta(handle.attrs)
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
        # schema 2 (absent in schema-1 files and in files analysed without them: None)
        for name in ("coef_exp", "coef_id", "fit_residual", "emotions_appearance"):
            setattr(self, name, frames[name][:n] if name in frames else None)

    # Attributes filled in __init__ (declared for type checkers and readers).
    coef_exp: np.ndarray | None
    coef_id: np.ndarray | None
    fit_residual: np.ndarray | None
    emotions_appearance: np.ndarray | None
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
    def open(cls, path: str | os.PathLike[str], verify: bool = True) -> SessionResults:
        """Open a complete results file; raises :class:`ResultsError` with a one-line reason.

        Every chunk carries a Fletcher-32 checksum (files written since checksums were added; older
        files have none to check). The per-frame columns are read and so checked here; with
        ``verify`` (default) the landmarks are read once too (about 0.2 s per hour of session).
        """
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
        except (OSError, RuntimeError, ValueError):
            raise ResultsError(f"{p} is not a FaceLens results file (not HDF5 or corrupt)") from None
        try:
            version = handle.attrs.get("schema_version")
            if version is None or "frames" not in handle:
                raise ResultsError(f"{p} is not a FaceLens results file (no schema_version)")
            if int(version) not in READABLE_SCHEMAS:
                raise ResultsError(f"{p} has results schema {int(version)}; this FaceLens reads "
                                   f"{', '.join(map(str, READABLE_SCHEMAS))}")
            if not bool(handle.attrs.get("complete", False)) or p.name.endswith(PARTIAL_SUFFIX):
                raise ResultsError(f"{p} is incomplete (the analysis did not finish)")
            res = cls(p, handle)
            if verify:
                res.verify()
            return res
        except ResultsError:
            handle.close()
            raise
        except (KeyError, OSError, ValueError, RuntimeError, TypeError) as exc:  # h5py on damaged metadata
            handle.close()
            raise _corrupt(p, exc) from None

    def verify(self) -> None:
        """Read every landmark chunk once, so that HDF5 checks its checksum (the other columns are
        checked when they are read in :meth:`open`). Raises :class:`ResultsError` when one is damaged."""
        try:
            chunks = self._landmarks.iter_chunks() if self._landmarks.chunks and self.n_frames else []
            for sel in chunks:
                self._landmarks[sel]
        except (OSError, ValueError, RuntimeError) as exc:
            raise _corrupt(self.path, exc) from None

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

    @property
    def valid_va(self) -> np.ndarray:
        """(N,) bool: usable frames with a finite valence and arousal (what statistics count)."""
        return self.usable & np.isfinite(self.valence) & np.isfinite(self.arousal)

    def posefree_mesh(self, i: int) -> np.ndarray:
        """Frame ``i``'s mesh with the rigid head pose removed: ``R^T (x - t) / s``.

        The stored pose maps the template to the image (``x = s R p + t``), so undoing it
        leaves the expression-only shape in template units. NaN when the frame has no face.
        """
        from facelens.core.face.geometry import posefree_batch

        s = float(self.scale[i])
        if not np.isfinite(s) or s == 0.0:
            return np.full((N_LANDMARKS, 3), np.nan)
        return posefree_batch(self.landmarks(i)[None], self.rotation[i][None].astype(np.float64),
                              self.translation[i][None].astype(np.float64), np.array([s]))[0]

    def discard_counts(self) -> dict[str, int]:
        """Unusable frames per reason (``QUALITY_LABELS``), zero counts included."""
        counts = np.bincount(self.quality.astype(np.int64), minlength=len(Quality))
        return {QUALITY_LABELS[q]: int(counts[q]) for q in Quality if not is_usable(np.array(int(q)))}

    def frame_at_time(self, t: float) -> int:
        """Index of the sampled frame nearest to time ``t`` (clamped to the session)."""
        if self.n_frames == 0:
            raise ResultsError(f"{self.path} has no frames")
        from facelens.core.common.timeaxis import nearest_frame

        return nearest_frame(self.time_s, t)

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


def _corrupt(path: Path, exc: BaseException) -> ResultsError:
    """The one-line error for a damaged results file: never shown as a result, offered for re-analysis."""
    why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return ResultsError(f"{path} is damaged ({why}); analyse the session again to replace it")


def stored_frames(path: str | os.PathLike[str], n: int, names: tuple[str, ...],
                  optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """The first ``n`` rows of the per-frame datasets ``names`` and ``optional`` (None when the file has
    none) of a (partial) results file: what a resumed analysis's stateful stages replay.

    The one reader of the results format outside :class:`SessionResults` (a partial file has no
    ``complete`` flag, so :meth:`SessionResults.open` refuses it). Raises :class:`ResultsError` when a
    ``names`` dataset is missing or the file cannot be read.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            fr = f["frames"]
            out: dict[str, Any] = {k: fr[k][:n] for k in names}
            out.update({k: fr[k][:n] if k in fr else None for k in optional})
            return out
    except (OSError, KeyError) as exc:
        raise ResultsError(f"{Path(path).name}: cannot read the stored frames to resume ({exc})") from None


def stored_affect_inputs(path: str | os.PathLike[str], n: int) -> dict[str, Any]:
    """What the valence/arousal estimator saw for the first ``n`` frames of a (partial) file:
    ``emotions`` (stored, fused; None when the file has none), ``expressions``, ``time_s``, ``quality``,
    and (schema 2, None when absent) ``coef_exp`` and ``emotions_appearance``."""
    return stored_frames(path, n, ("expressions", "time_s", "quality"),
                         optional=("emotions", "coef_exp", "emotions_appearance"))
