"""Run a cohort's per-session tasks on a local process pool or a Dask distributed cluster.

Both engines run the same :func:`facelens.core.analysis.batch.task.run_session`; this module only hands
tasks out, collects outcomes, reports progress and writes the cohort tables at the end.

Local pool: ``concurrent.futures.ProcessPoolExecutor`` with the ``spawn`` start method
(mediapipe's threads do not survive ``fork``); each worker loads the models once and keeps
them for the sessions it gets. If a worker dies (a crash in native code, the OOM killer),
the pool is rebuilt and unfinished sessions are resubmitted; the sessions that were running
then are retried one at a time in a pool of their own, and one that kills that worker too is
recorded as failed (so a crash is never blamed on the session that happened to run beside it).

Dask: ``distributed.Client(address)`` on an existing scheduler; the workers must be able to
import facelens and see the output folder (a shared file system, as on a lab cluster).
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facelens.core.analysis.batch.manifest import BatchEntry
from facelens.core.analysis.batch.rows import write_cohort_tables
from facelens.core.affect.choice import DEFAULT_ESTIMATOR
from facelens.core.analysis.batch.task import SessionOutcome, SessionTask, read_progress, run_session
from facelens.core.common.atomic import make_private_dirs

_POLL_S = 0.5


class BatchError(Exception):
    """The batch as a whole cannot run (bad options, unreachable scheduler); one line."""


@dataclass
class BatchStatus:
    """Progress of the whole cohort, handed to the ``on_status`` callback."""

    total: int
    outcomes: dict[str, SessionOutcome] = field(default_factory=dict)
    running: dict[str, dict[str, Any]] = field(default_factory=dict)  # session -> last progress state
    finished_now: SessionOutcome | None = None  # set when the callback is due to a finished session

    @property
    def n_finished(self) -> int:
        return len(self.outcomes)

    @property
    def n_failed(self) -> int:
        return sum(o.status != "ok" for o in self.outcomes.values())


@dataclass
class BatchResult:
    """Outcomes in manifest order and the tables written."""

    outcomes: list[SessionOutcome]
    cohort_csv: Path
    cohort_parquet: Path
    failures_csv: Path
    wall_s: float

    @property
    def failed(self) -> list[SessionOutcome]:
        return [o for o in self.outcomes if o.status != "ok"]


def make_tasks(entries: Iterable[BatchEntry], out_dir: Path, *, fps: float, device: str,
               backend: str = "mediapipe", batch_size: int = 32, threads: int = 0,
               va: str = DEFAULT_ESTIMATOR) -> list[SessionTask]:
    out_dir = Path(out_dir).resolve()
    return [SessionTask(session_id=e.session_id, video=str(e.video), out_dir=str(out_dir),
                        subject_id=e.subject_id, diagnosis=e.diagnosis,
                        segments=str(e.segments) if e.segments else None, fps=fps, device=device,
                        backend=backend, batch_size=batch_size, threads=threads, va=va) for e in entries]


def run_batch(entries: Sequence[BatchEntry], out_dir: str | os.PathLike[str], *, workers: int = 1,
              scheduler: str | None = None, fps: float = 10.0, device: str = "auto",
              backend: str = "mediapipe", batch_size: int = 32,
              on_status: Callable[[BatchStatus], None] | None = None, va: str = DEFAULT_ESTIMATOR,
              task_fn: Callable[[SessionTask], SessionOutcome] = run_session) -> BatchResult:
    """Analyse every entry and write ``cohort.csv``, ``cohort.parquet`` and ``failures.csv``.

    Parameters
    ----------
    entries
        Sessions from :func:`~facelens.core.analysis.batch.manifest.read_batch_manifest`.
    out_dir
        Output folder: ``sessions/<id>.h5``, ``progress/<id>.json`` and the tables.
    workers
        Local pool size (ignored with ``scheduler``).
    scheduler
        Address of a Dask scheduler (``tcp://host:port``); ``None`` for the local pool.
    on_status
        Called about twice a second and after each finished session.
    va
        Valence/arousal/emotion estimator of every session (``circumplex`` or ``g``).
    task_fn
        The per-session work (a picklable module-level function); tests swap it to provoke
        worker deaths without hours of analysis.
    """
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    if fps <= 0:
        raise BatchError("--fps must be positive")
    out = Path(out_dir)
    created = not out.exists()
    try:
        make_private_dirs(out)
    except OSError as exc:
        raise BatchError(f"cannot create {out}: {exc.strerror or exc}") from None
    # each local worker gets an equal share of the cores for torch (mediapipe keeps its own threads)
    threads = max(1, (os.cpu_count() or 1) // workers) if scheduler is None else 0
    tasks = make_tasks(entries, out, fps=fps, device=device, backend=backend, batch_size=batch_size,
                       threads=threads, va=va)
    status = BatchStatus(total=len(tasks))
    t0 = time.perf_counter()
    if scheduler:
        try:
            _run_dask(tasks, scheduler, status, on_status, task_fn)
        except BatchError:
            if created:
                _remove_if_no_files(out)  # an unreachable cluster leaves no folder that looks like a run
            raise
    else:
        _run_pool(tasks, workers, status, on_status, task_fn)
    outcomes = [status.outcomes[t.session_id] for t in tasks]
    rows = [_table_row(t, o) for t, o in zip(tasks, outcomes)]
    csv_path, pq_path, fail_path = write_cohort_tables(rows, out)
    return BatchResult(outcomes, csv_path, pq_path, fail_path, time.perf_counter() - t0)


def _remove_if_no_files(folder: Path) -> None:
    """Delete ``folder`` when it holds no file at any depth (only the empty folders we made)."""
    if not any(p.is_file() for p in folder.rglob("*")):
        shutil.rmtree(folder, ignore_errors=True)


def _table_row(task: SessionTask, o: SessionOutcome) -> dict[str, Any]:
    base = Path(task.out_dir)
    return {"session_id": task.session_id, "subject_id": task.subject_id, "diagnosis": task.diagnosis,
            "status": o.status, "reason": o.reason, "video": task.video,
            "segments": task.segments or "",
            "results": os.path.relpath(task.results_path, base) if o.status == "ok" else "", **o.row}


def _poll(tasks: Sequence[SessionTask], status: BatchStatus,
          on_status: Callable[[BatchStatus], None] | None) -> None:
    status.running = {}
    for t in tasks:
        if t.session_id in status.outcomes:
            continue
        state = read_progress(t.progress_path)
        if state.get("state") in ("starting", "running"):
            status.running[t.session_id] = state
    status.finished_now = None
    if on_status:
        on_status(status)


def _finish(status: BatchStatus, outcome: SessionOutcome,
            on_status: Callable[[BatchStatus], None] | None) -> None:
    status.outcomes[outcome.session_id] = outcome
    status.running.pop(outcome.session_id, None)
    status.finished_now = outcome
    if on_status:
        on_status(status)
    status.finished_now = None


# -- local process pool --------------------------------------------------------------------------
def _init_worker(threads: int) -> None:
    # before torch is first imported in this fresh (spawned) process
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(threads))


def _clear_progress(tasks: Sequence[SessionTask]) -> None:
    for t in tasks:  # a killed earlier run may have left "running" states behind
        t.progress_path.unlink(missing_ok=True)


def _run_pool(tasks: Sequence[SessionTask], workers: int, status: BatchStatus,
              on_status: Callable[[BatchStatus], None] | None,
              task_fn: Callable[[SessionTask], SessionOutcome]) -> None:
    _clear_progress(tasks)
    clean: list[SessionTask] = list(tasks)
    suspects: list[SessionTask] = []
    while clean or suspects:
        # suspects (running when a worker died) go again one at a time, alone in a fresh pool,
        # so that a second death can be blamed on the right session
        batch, n = (clean, workers) if clean else ([suspects.pop(0)], 1)
        broken = _pool_pass(batch, n, status, on_status, task_fn)
        left = [t for t in batch if t.session_id not in status.outcomes]
        if not broken:
            clean = left if batch is clean else clean
            continue
        if n == 1 and len(batch) == 1:
            _finish(status, SessionOutcome(batch[0].session_id, "failed", reason=(
                "the worker process died while analysing this session (native crash or out of memory); "
                "results of the other sessions are complete")), on_status)
            continue
        started = [t for t in left if read_progress(t.progress_path).get("state") in ("starting", "running")]
        started = started or left  # nothing says who ran: isolate them all
        suspects += started
        clean = [t for t in left if t not in started]
        _clear_progress(left)


def _pool_pass(batch: Sequence[SessionTask], workers: int, status: BatchStatus,
               on_status: Callable[[BatchStatus], None] | None,
               task_fn: Callable[[SessionTask], SessionOutcome]) -> bool:
    """Run ``batch`` on a fresh spawn pool; True when a worker died (the pool broke)."""
    ctx = multiprocessing.get_context("spawn")
    threads = batch[0].threads if batch else 1
    pool = cf.ProcessPoolExecutor(max_workers=min(workers, len(batch)), mp_context=ctx,
                                  initializer=_init_worker, initargs=(threads,))
    broken = False
    try:
        futures = {pool.submit(task_fn, t): t for t in batch}
        not_done = set(futures)
        while not_done and not broken:
            done, not_done = cf.wait(not_done, timeout=_POLL_S, return_when=cf.FIRST_COMPLETED)
            for fut in done:
                task = futures[fut]
                try:
                    _finish(status, fut.result(), on_status)
                except cf.process.BrokenProcessPool:
                    broken = True
                except Exception as exc:  # noqa: BLE001 - pickling trouble and the like: one session's failure
                    _finish(status, SessionOutcome(task.session_id, "failed", reason=str(exc)), on_status)
            _poll(batch, status, on_status)
    finally:
        pool.shutdown(wait=not broken, cancel_futures=True)
    return broken


# -- Dask distributed ----------------------------------------------------------------------------
def _run_dask(tasks: Sequence[SessionTask], address: str, status: BatchStatus,
              on_status: Callable[[BatchStatus], None] | None,
              task_fn: Callable[[SessionTask], SessionOutcome], wait_workers_s: float = 120.0) -> None:
    try:
        from distributed import Client
    except ImportError:
        raise BatchError("--scheduler needs dask.distributed (pip install 'dask[distributed]')") from None
    _clear_progress(tasks)
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BatchError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        try:
            client.wait_for_workers(1, timeout=wait_workers_s)
        except TimeoutError:
            raise BatchError(f"the Dask scheduler at {address} has no workers "
                             f"(none joined within {wait_workers_s:.0f} s)") from None
        # pure=False: a re-run must execute again (it skips finished sessions itself)
        futures = {client.submit(task_fn, t, key=f"facelens-session-{t.session_id}-{os.getpid()}-"
                                 f"{time.time_ns()}", pure=False): t for t in tasks}
        not_done = set(futures)
        while not_done:
            done = [f for f in not_done if f.done()]  # states arrive on the client's own thread
            if not done:
                time.sleep(_POLL_S)
            for fut in done:
                task = futures[fut]
                not_done.discard(fut)
                try:
                    _finish(status, fut.result(), on_status)
                except Exception as exc:  # noqa: BLE001 - KilledWorker, import errors on the worker, ...
                    reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
                    _finish(status, SessionOutcome(task.session_id, "failed", reason=reason), on_status)
            _poll(tasks, status, on_status)
    finally:
        client.close()
