"""The per-session task that a batch runs on a worker (a pool process or a Dask worker).

:func:`run_session` never raises: whatever goes wrong becomes a ``failed`` outcome with a
one-line reason, so one broken recording cannot stop a cohort. It is a plain module-level
function taking a picklable :class:`SessionTask`, so both engines ship it the same way.

Worker processes import this module first; it imports nothing heavy at module level (the
pipeline, torch and mediapipe are imported when the first session actually runs).

Re-runs: a finished results file whose video hash and sampling rate match is kept (the row is
recomputed from it, which is cheap); an interrupted ``.partial`` is resumed by the pipeline
(exactly, see ``core.pipeline``). Progress goes to ``DIR/progress/<session>.json``, replaced
atomically after each batch of frames, which the coordinating process reads; this works for a
local pool and for a cluster whose workers see the same output folder.
"""
from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facelens.core.affect.choice import DEFAULT_ESTIMATOR
from facelens.core.common.atomic import atomic_write_text, make_private_dirs

PROGRESS_DIR = "progress"
SESSIONS_DIR = "sessions"
_PROGRESS_EVERY_S = 0.5
# errors whose messages are written for users (one line, name the file): reported as they are
_EXPECTED_ERRORS = frozenset({"VideoError", "SegmentError", "ResultsError", "PipelineError", "ModelError",
                              "AnalysisCancelled"})


@dataclass(frozen=True)
class SessionTask:
    """Everything a worker needs for one session (picklable, paths absolute)."""

    session_id: str
    video: str
    out_dir: str
    subject_id: str = ""
    diagnosis: str = ""
    segments: str | None = None
    fps: float = 10.0
    device: str = "auto"
    backend: str = "mediapipe"
    batch_size: int = 32
    threads: int = 0  # torch intra-op threads in the worker (0: leave as is)
    va: str = DEFAULT_ESTIMATOR  # valence/arousal/emotion estimator (AnalysisConfig.va)

    @property
    def results_path(self) -> Path:
        return Path(self.out_dir) / SESSIONS_DIR / f"{self.session_id}.h5"

    @property
    def progress_path(self) -> Path:
        return Path(self.out_dir) / PROGRESS_DIR / f"{self.session_id}.json"


@dataclass
class SessionOutcome:
    """What happened to one session."""

    session_id: str
    status: str  # "ok" or "failed"
    reason: str = ""
    skipped: bool = False  # a finished, matching results file was already there
    resumed: bool = False  # an interrupted .partial was continued
    n_frames: int = 0
    wall_s: float = 0.0
    row: dict[str, Any] = field(default_factory=dict)


def write_progress(path: Path, state: dict[str, Any]) -> None:
    """Replace ``path`` with ``state`` as JSON (atomic, so a reader never sees half a file)."""
    atomic_write_text(path, json.dumps(state), make_parents=True)  # owner-only, like every output


def read_progress(path: Path) -> dict[str, Any]:
    """The last progress state written for a session (empty dict when none or unreadable)."""
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return {}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if type(exc).__name__ not in _EXPECTED_ERRORS:  # an unexpected error: say what kind it was
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= 300 else text[:297] + "..."


def _set_threads(n: int) -> None:
    if n > 0:
        import torch

        torch.set_num_threads(n)


def _existing_matches(task: SessionTask, video_sha: str) -> bool:
    """A complete results file for this very video at this sampling rate, estimator, crop
    preprocessing and quality gates is already there."""
    from facelens.core.affect.illumination import PREPROCESSING, recorded_preprocessing
    from facelens.core.face.tracking import gate_settings, recorded_gates
    from facelens.core.results import ResultsError, SessionResults

    try:
        with SessionResults.open(task.results_path) as r:
            return (r.video_sha256 == video_sha and float(r.params.get("fps", -1)) == float(task.fps)
                    and str(r.meta.get("va_estimator", "circumplex")) == task.va
                    and recorded_preprocessing(r.meta) == PREPROCESSING
                    and recorded_gates(r.params) == gate_settings())
    except ResultsError:
        return False


def _row(task: SessionTask) -> dict[str, Any]:
    from facelens.core.analysis.batch.rows import session_row
    from facelens.core.results import SessionResults
    from facelens.core.annotation.segments import read_segments_csv

    segments = read_segments_csv(task.segments) if task.segments else None
    with SessionResults.open(task.results_path) as r:
        return session_row(r, segments)


def run_session(task: SessionTask) -> SessionOutcome:
    """Analyse (or skip, or resume) one session and compute its cohort row. Never raises."""
    t0 = time.perf_counter()
    info = {"session_id": task.session_id, "host": socket.gethostname(), "pid": os.getpid()}
    progress = task.progress_path
    write_progress(progress, {**info, "state": "starting", "done": 0, "total": 0})
    out = SessionOutcome(task.session_id, "failed")
    try:
        from facelens.core.annotation.segments import read_segments_csv

        if task.segments:  # a broken segments file fails the session before hours of analysis
            read_segments_csv(task.segments)
        from facelens.core.common.hashing import sha256_file
        from facelens.core.results import partial_path
        from facelens.core.media.video import open_media

        open_media(task.video).close()  # VideoError (missing, corrupt) with a one-line reason
        if _existing_matches(task, sha256_file(task.video)):
            out.skipped = True
        else:
            _set_threads(task.threads)
            out.resumed = partial_path(task.results_path).exists()
            _analyse(task, info, resume=out.resumed)
        out.row = _row(task)
        out.n_frames = int(out.row.get("n_frames", 0))
        out.status = "ok"
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - every failure is recorded, never propagated
        out.reason = _one_line(exc)
    out.wall_s = round(time.perf_counter() - t0, 3)
    state = "done" if out.status == "ok" else "failed"
    write_progress(progress, {**info, "state": state, "done": out.n_frames, "total": out.n_frames,
                              "reason": out.reason, "skipped": out.skipped, "wall_s": out.wall_s})
    return out


def _analyse(task: SessionTask, info: dict[str, Any], resume: bool) -> None:
    from facelens.core.analysis.pipeline import run_analysis
    from facelens.core.results import ResultsError, partial_path

    # One session per pool/cluster worker already uses the cores: no chunk threads inside a session
    # (results are identical either way; see core/chunk_threads.py).
    kw: dict[str, Any] = {"fps": task.fps, "device": task.device, "backend": task.backend,
                          "batch_size": task.batch_size, "workers": 1, "va": task.va}
    make_private_dirs(task.results_path.parent)
    try:
        gen = run_analysis(task.video, task.results_path, resume=resume, **kw)
        _drain(gen, task, info)
    except ResultsError:
        if not resume:
            raise
        # an unusable .partial (e.g. cut off mid-write by a crash): start this session afresh
        partial_path(task.results_path).unlink(missing_ok=True)
        _drain(run_analysis(task.video, task.results_path, resume=False, **kw), task, info)


def _drain(gen: Any, task: SessionTask, info: dict[str, Any]) -> None:
    last = 0.0
    for p in gen:
        now = time.monotonic()
        if now - last >= _PROGRESS_EVERY_S:
            last = now
            write_progress(task.progress_path, {**info, "state": "running", "done": p.done, "total": p.total})
