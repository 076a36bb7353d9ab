"""Background analysis: a queue of sessions, one worker at a time driving the pipeline.

The pipeline is a generator (``facelens.core.analysis.pipeline.run_analysis``) that yields a ``Progress`` after
each batch and checks a cancel callable there. By default it runs in a **child process**
(:class:`ProcessAnalysisWorker`, see ``analysis_child`` for why): a ``QThread`` in the GUI process only
waits on the pipe and turns messages into signals. :class:`AnalysisWorker` runs it in a thread of this
process instead (kept as the benchmark's baseline and for environments without process spawning).
Results cross threads through signals alone, and no worker touches the workspace (its SQLite
connection belongs to the GUI thread), so the queue records every status change on the GUI thread.

One worker at a time: the machine's cores are better spent on one pipeline than split between two.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

from facelens.core.affect.choice import DEFAULT_ESTIMATOR


def one_line(exc: object) -> str:
    """The first non-empty line of an error (a session's reason is shown in one table cell).

    multiprocessing's start-up errors, for one, begin with a newline and run to fifteen lines.
    """
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if lines:
        return lines[0]
    return type(exc).__name__ if isinstance(exc, BaseException) else "unknown error"


@dataclass
class AnalysisJob:
    """One session to analyse."""

    session_id: int
    video: Path
    out: Path
    device: str = "auto"
    fps: float = 10.0
    resume: bool = False
    demo: bool = False
    va: str = DEFAULT_ESTIMATOR
    reconstruction: str = "fit"


class AnalysisWorker(QThread):
    """Runs one :class:`AnalysisJob` in its own thread.

    Signals carry plain Python objects; ``progress`` is throttled to about ten per second except that
    every batch's columns are forwarded (the plots need all of them).
    """

    progress = Signal(int, int, int, float, float, object)  # session, done, total, rate, eta, partial
    finished_ok = Signal(int, str)  # session, results path
    cancelled = Signal(int)
    failed = Signal(int, str)  # session, one-line reason

    def __init__(self, job: AnalysisJob) -> None:
        super().__init__()
        self.job = job
        self._cancel = False

    def cancel(self) -> None:
        """Ask the pipeline to stop at its next batch (it leaves a resumable ``.partial``)."""
        self._cancel = True

    def run(self) -> None:  # worker thread
        job = self.job
        try:
            from facelens.core.analysis.pipeline import AnalysisCancelled, run_analysis
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(job.session_id, f"the analysis pipeline is not available: {one_line(exc)}")
            return
        try:
            kwargs: dict[str, Any] = {"fps": job.fps, "device": job.device, "resume": job.resume,
                                      "va": job.va, "reconstruction": job.reconstruction,
                                      "cancel": lambda: self._cancel}
            if job.demo:
                kwargs["demo"] = True
            for p in run_analysis(job.video, job.out, **kwargs):
                self.progress.emit(job.session_id, int(p.done), int(p.total), float(p.rate),
                                   float(p.eta_s), dict(p.partial))
            self.finished_ok.emit(job.session_id, str(job.out))
        except AnalysisCancelled:
            self.cancelled.emit(job.session_id)
        except Exception as exc:  # noqa: BLE001 - becomes the session's "failed: reason"
            msg = one_line(exc)
            traceback.print_exc()  # the full story for the log; the user sees one line
            self.failed.emit(job.session_id, msg)


class ProcessAnalysisWorker(AnalysisWorker):
    """Runs one :class:`AnalysisJob` in a child process; this thread relays the child's messages.

    The thread spends its time blocked in ``Connection.poll`` (no GIL held); per batch it unpickles
    one message of a few hundred kB and emits a signal. Cancel sets a ``multiprocessing.Event`` the
    pipeline checks after each batch; :meth:`kill` ends a child that does not stop in time.
    """

    POLL_S = 0.2

    def __init__(self, job: AnalysisJob) -> None:
        super().__init__(job)
        import multiprocessing

        self._ctx = multiprocessing.get_context("spawn")  # fresh interpreter: no Qt state is forked
        self._cancel_event = self._ctx.Event()
        self._proc: Any = None

    def cancel(self) -> None:
        self._cancel = True
        self._cancel_event.set()

    def kill(self) -> None:
        """Terminate the child (after a cancel that was not honoured in time)."""
        p = self._proc
        if p is not None and p.is_alive():
            p.terminate()

    def run(self) -> None:  # worker thread
        from facelens.gui.analysis_child import ChildJob, child_main

        job = self.job
        child_job = ChildJob(str(job.video), str(job.out), job.device, float(job.fps), bool(job.resume),
                             bool(job.demo), job.va, job.reconstruction)
        recv, send = self._ctx.Pipe(duplex=False)
        try:
            self._proc = self._ctx.Process(target=child_main, args=(child_job, send, self._cancel_event),
                                           name=f"facelens-analysis-{job.session_id}", daemon=True)
            self._proc.start()
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(job.session_id, f"could not start the analysis process: {one_line(exc)}")
            return
        finally:
            send.close()  # only the child writes; EOF on our end once it exits
        final = self._relay(recv)
        recv.close()
        self._proc.join(5.0)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(5.0)
        if final:
            return
        if self._cancel:  # killed after a cancel: the .partial stays resumable up to its last batch
            self.cancelled.emit(job.session_id)
        else:
            self.failed.emit(job.session_id,
                             f"the analysis process stopped unexpectedly (exit code {self._proc.exitcode})")

    def _relay(self, recv: Any) -> bool:
        """Forward messages until a final one (True) or the child's end without one (False)."""
        sid = self.job.session_id
        while True:
            try:
                if not recv.poll(self.POLL_S):
                    if self._proc.is_alive():
                        continue
                    if not recv.poll(0):
                        return False
                msg = recv.recv()
            except (EOFError, OSError):
                return False
            kind = msg[0]
            if kind == "progress":
                _, done, total, rate, eta, cols = msg
                self.progress.emit(sid, done, total, rate, eta, cols)
            elif kind == "done":
                self.finished_ok.emit(sid, msg[1])
                return True
            elif kind == "cancelled":
                self.cancelled.emit(sid)
                return True
            elif kind == "failed":
                self.failed.emit(sid, one_line(msg[1]))
                return True


class AnalysisQueue(QObject):
    """Sessions waiting for analysis and the one running now.

    Signals
    -------
    started(session_id)
    progress(session_id, done, total, rate, eta_s, partial)
    finished(session_id, results_path)
    cancelled(session_id)
    failed(session_id, reason)
    idle()
        The queue ran empty.
    """

    started = Signal(int)
    progress = Signal(int, int, int, float, float, object)
    finished = Signal(int, str)
    cancelled = Signal(int)
    failed = Signal(int, str)
    idle = Signal()

    def __init__(self, parent: QObject | None = None, *, in_process: bool = False) -> None:
        super().__init__(parent)
        # in_process=True: the pipeline runs in a thread of this process (the old design; slower GUI)
        self.worker_class: type[AnalysisWorker] = AnalysisWorker if in_process else ProcessAnalysisWorker
        self._pending: list[AnalysisJob] = []
        self._worker: AnalysisWorker | None = None
        self._cancelled_ids: set[int] = set()

    @property
    def running(self) -> AnalysisJob | None:
        return self._worker.job if self._worker is not None else None

    @property
    def pending(self) -> list[AnalysisJob]:
        return list(self._pending)

    def is_busy(self) -> bool:
        return self._worker is not None or bool(self._pending)

    def contains(self, session_id: int) -> bool:
        return any(j.session_id == session_id for j in self._pending) or (
            self.running is not None and self.running.session_id == session_id)

    def enqueue(self, job: AnalysisJob) -> None:
        """Queue a session (ignored if it is already queued or running)."""
        if self.contains(job.session_id):
            return
        self._pending.append(job)
        self._start_next()

    def cancel(self, session_id: int) -> None:
        """Cancel a queued or running session."""
        before = len(self._pending)
        self._pending = [j for j in self._pending if j.session_id != session_id]
        if len(self._pending) != before:
            self.cancelled.emit(session_id)
        if self._worker is not None and self._worker.job.session_id == session_id:
            self._worker.cancel()

    def stop_all(self, timeout_s: float = 30.0) -> bool:
        """Cancel everything and wait for the worker (on quit). Returns False if it did not stop in time."""
        self._pending.clear()
        w = self._worker
        if w is None:
            return True
        w.cancel()
        ok = w.wait(int(timeout_s * 1000))
        if not ok and isinstance(w, ProcessAnalysisWorker):
            w.kill()  # a child stuck in one batch: end it (its .partial holds every finished batch)
            ok = w.wait(10_000)
        # Deliver the worker's last queued signals (cancelled/finished) before the window goes away.
        t0 = time.monotonic()
        from PySide6.QtCore import QCoreApplication

        while self._worker is not None and time.monotonic() - t0 < 2.0:
            QCoreApplication.processEvents()
        return bool(ok)

    def _start_next(self) -> None:
        if self._worker is not None or not self._pending:
            return
        job = self._pending.pop(0)
        w = self.worker_class(job)
        w.progress.connect(self.progress)
        w.finished_ok.connect(self.finished)
        w.cancelled.connect(self.cancelled)
        w.failed.connect(self.failed)
        w.finished.connect(self._on_thread_finished)  # QThread.finished: after run() returned
        self._worker = w
        w.start()
        self.started.emit(job.session_id)

    def _on_thread_finished(self) -> None:
        w, self._worker = self._worker, None
        if w is not None:
            w.deleteLater()
        if self._pending:
            self._start_next()
        else:
            self.idle.emit()
