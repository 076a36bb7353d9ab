"""Streams per-frame column batches into ``NAME.h5.partial`` and renames it to ``NAME.h5`` when complete."""
from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.atomic import create_private_file, make_private_dirs
from facelens.core.results.schema import (
    LANDMARK_ROWS_PER_CHUNK,
    ROWS_PER_CHUNK,
    SCHEMA_VERSION,
    ResultsError,
    column_specs,
    partial_path,
    read_meta,
    set_meta,
)
from facelens.core.results.space import bytes_per_frame, check_free_space

#: ``params`` that decide which frames are usable: a session is never resumed under other values
#: (its frames would be gated two ways). A key the earlier file lacks counts as different.
QUALITY_GATE_PARAMS = ("blur_measure", "blur_threshold", "min_confidence", "max_yaw_deg", "max_pitch_deg")


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
    coef_sizes, appearance
        Optional columns (:func:`~facelens.core.results.schema.column_specs`).
    expect_frames
        Frames still to come: refuse at once (``ResultsError``, nothing created) when the disk
        cannot hold them (:mod:`facelens.core.results.space`); every batch is checked as well.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        meta: dict[str, Any],
        *,
        expression_names: Sequence[str],
        emotion_labels: Sequence[str] | None = None,
        resume: bool = False,
        expect_frames: int | None = None,
        coef_sizes: tuple[int, int] | None = None,
        appearance: bool = False,
    ) -> None:
        import h5py

        self.path = Path(path)
        self.partial = partial_path(self.path)
        self._names = [str(n) for n in expression_names]
        self._labels = None if emotion_labels is None else [str(n) for n in emotion_labels]
        if not self._names or (self._labels is not None and not self._labels):
            raise ValueError("expression_names and emotion_labels must not be empty")
        self._specs = column_specs(len(self._names), None if self._labels is None else len(self._labels),
                                   coef_sizes=coef_sizes, appearance=appearance)
        self._file: Any = None
        if expect_frames and not resume:
            self._reserve(int(expect_frames))
        if resume:
            self._file = self._reopen(meta)
            if expect_frames:
                try:
                    self._reserve(int(expect_frames) - int(self._file.attrs["n_done"]))
                except ResultsError:
                    self._file.close()
                    raise
        else:
            try:  # owner-only folder and file (patient data; see core.common.atomic), then HDF5 in it
                make_private_dirs(self.partial.parent)
                create_private_file(self.partial)
                self._file = h5py.File(self.partial, "w")
            except OSError as exc:
                raise ResultsError(f"cannot create {self.partial}: {exc}") from None
            self._create(meta)
        self.n_done: int = int(self._file.attrs["n_done"])

    def _reserve(self, n_frames: int) -> None:
        folder = self.partial.parent
        while not folder.is_dir() and folder.parent != folder:  # the nearest folder that exists
            folder = folder.parent
        check_free_space(folder, max(n_frames, 0) * bytes_per_frame(self._specs), f"the results of {self.path.name}")

    # -- creation / resumption -------------------------------------------------------------
    def _create(self, meta: dict[str, Any]) -> None:
        from facelens import __version__

        f = self._file
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["complete"] = False
        f.attrs["n_done"] = 0
        f.attrs["facelens_version"] = __version__
        f.attrs["demo"] = False
        set_meta(f.attrs, meta)
        frames = f.create_group("frames")
        for name, (shape, dtype, fill) in self._specs.items():
            rows = LANDMARK_ROWS_PER_CHUNK if name == "landmarks" else ROWS_PER_CHUNK
            frames.create_dataset(
                name,
                shape=(0, *shape),
                maxshape=(None, *shape),
                dtype=dtype,
                chunks=(rows, *shape),
                compression="lzf" if name == "landmarks" else None,
                fletcher32=True,  # a checksum per chunk: HDF5 refuses to read a damaged chunk
                fillvalue=fill if fill is not None else 0,
            )
        frames["expressions"].attrs["names"] = json.dumps(self._names)
        if self._labels is not None:
            for name in ("emotions", "emotions_appearance"):
                if name in frames:
                    frames[name].attrs["names"] = json.dumps(self._labels)
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
            stored = read_meta(f.attrs)
            old = stored.get("appearance_preprocessing")  # absent: an earlier version's crops
            if "appearance_preprocessing" in meta and old != meta["appearance_preprocessing"]:
                raise ResultsError(f"cannot resume {self.partial}: made by an earlier FaceLens version "
                                   "(other face-crop preprocessing); analyse the session again")
            old_params = stored.get("params", {})
            gates = [k for k in QUALITY_GATE_PARAMS if k in meta.get("params", {})]
            if any(old_params.get(k) != meta["params"][k] for k in gates):  # absent: an earlier version's gates
                raise ResultsError(f"cannot resume {self.partial}: made with other quality gates (blur measure, "
                                   "thresholds or head-pose limits); analyse the session again")
            layout = {k: tuple(d.shape[1:]) for k, d in f["frames"].items()}
            if layout != {k: shape for k, (shape, _, _) in self._specs.items()}:
                raise ResultsError(f"cannot resume {self.partial}: made with other columns (another estimator "
                                   "or morphable model)")
            # Frames beyond n_done may be half written: drop them.
            n = min([int(f.attrs.get("n_done", 0))] + [len(d) for d in f["frames"].values()])
            for dset in f["frames"].values():
                dset.resize(n, axis=0)
            f.attrs["n_done"] = n
            set_meta(f.attrs, meta)
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
        check_free_space(self.partial.parent, sum(a.nbytes for a in arrays.values()), self.path.name,
                         f" (the {self.n_done} frames so far are kept in {self.partial.name}: free space, then resume)")
        start, stop = self.n_done, self.n_done + n_rows
        datasets = self._datasets()
        for name, arr in arrays.items():
            datasets[name].resize(stop, axis=0)
            datasets[name][start:stop] = arr
        # Data first, then the counter: after a crash n_done never counts unwritten rows.
        self._file.flush()
        self._file.attrs["n_done"] = stop
        self._file.flush()
        self.n_done = stop

    def _datasets(self) -> dict[str, Any]:
        """The open per-frame datasets by name: looked up once (an h5py lookup by name costs
        ~0.3 ms, 16 a batch, most of what writing a batch cost)."""
        cached = getattr(self, "_open_datasets", None)
        if cached is None or cached[0] is not self._file:
            cached = (self._file, {name: self._file["frames"][name] for name in self._specs})
            self._open_datasets = cached
        return cached[1]

    def column(self, name: str, start: int, stop: int) -> np.ndarray:
        """Rows ``start .. stop-1`` of a written per-frame column (a pass over the whole session)."""
        if self._file is None:
            raise ResultsError("results writer is closed")
        return self._datasets()[name][start:min(stop, self.n_done)]

    def has_column(self, name: str) -> bool:
        """Whether this file has the per-frame column ``name`` (some depend on the run's options)."""
        return name in self._specs

    def rewrite(self, name: str, start: int, values: np.ndarray) -> None:
        """Replace rows from ``start`` of a written column (same shape and type as written)."""
        if self._file is None:
            raise ResultsError("results writer is closed")
        shape, dtype, _ = self._specs[name]
        arr = np.asarray(values, dtype=dtype)
        if arr.shape[1:] != tuple(shape) or start + len(arr) > self.n_done:
            raise ValueError(f"column {name!r}: cannot rewrite rows {start}..{start + len(arr)} with shape {arr.shape}")
        self._datasets()[name][start:start + len(arr)] = arr

    def set_meta(self, meta: dict[str, Any]) -> None:
        """Add root attributes to the (partial) file, e.g. what the session pass found."""
        if self._file is None:
            raise ResultsError("results writer is closed")
        set_meta(self._file.attrs, meta)

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
            set_meta(self._file.attrs, extra_meta)
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
