"""Background analysis: a queue of sessions, one ``QThread`` worker at a time driving the pipeline.

The pipeline is a generator (``facelens.core.pipeline.run_analysis``) that yields a ``Progress`` after
each batch and checks a cancel callable there. The worker only iterates it and emits signals: results
cross threads through signals alone, and the worker never touches the workspace (its SQLite connection
belongs to the GUI thread), so the queue records every status change on the GUI thread.

One worker at a time: the machine's cores are better spent on one pipeline than split between two.
"""
from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal


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
            from facelens.core.pipeline import AnalysisCancelled, run_analysis
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(job.session_id, f"the analysis pipeline is not available: {exc}")
            return
        try:
            kwargs: dict[str, Any] = dict(fps=job.fps, device=job.device, resume=job.resume,
                                          cancel=lambda: self._cancel)
            if job.demo:
                kwargs["demo"] = True
            for p in run_analysis(job.video, job.out, **kwargs):
                self.progress.emit(job.session_id, int(p.done), int(p.total), float(p.rate),
                                   float(p.eta_s), dict(p.partial))
            self.finished_ok.emit(job.session_id, str(job.out))
        except AnalysisCancelled:
            self.cancelled.emit(job.session_id)
        except Exception as exc:  # noqa: BLE001 - becomes the session's "failed: reason"
            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            traceback.print_exc()  # the full story for the log; the user sees one line
            self.failed.emit(job.session_id, msg)


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

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
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
        w = AnalysisWorker(job)
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
