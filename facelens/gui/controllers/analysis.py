"""The analysis controller: queue sessions, follow the worker's signals, record every status change.

Status changes are written to the workspace on the GUI thread (its SQLite connection lives there) and
shown at once: the session's row says "queued" and the status bar says so the moment Analyse is
pressed. A session that already has results asks before it is analysed again; cancelling such a
re-analysis leaves it "analysed" (its earlier results are still the ones that open). The live view
of a running analysis is fed from the worker's batches; nothing here opens a video on the GUI
thread (the live session's length comes from the worker's frame count).
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from facelens.gui.analysis import AnalysisJob
from facelens.gui.session_data import SessionData
from facelens.viewmodel.app_model import AppModel
from facelens.viewmodel.settings import AppSettings

LIVE_REDRAW_MS = 400  # the curves fill in ~2.5 times a second while an analysis runs


class AnalysisController(QObject):
    """Runs the window's :class:`~facelens.gui.analysis.AnalysisQueue`.

    Parameters
    ----------
    parent : QWidget
        Parent of message boxes.
    model, prefs
        The application model (open session, messages, data changes) and settings (device, estimator).
    queue : AnalysisQueue
    workspace : callable
        Returns the open ``Workspace``.
    sessions_panel : SessionsPanel
        Shows each session's status and the running analysis's progress.
    review, video
        The open session's data and playhead; the video view's "queued" note.
    open_session, refresh_sessions, results_path : callable
        The session and workspace controllers' ``open(id)``, ``refresh_sessions()`` and
        ``results_path(id)`` (a started or finished analysis reopens the session on screen).
    """

    def __init__(self, parent: QWidget, model: AppModel, prefs: AppSettings, queue: Any, *,
                 workspace: Callable[[], Any], sessions_panel: Any, review: Any, video: Any,
                 open_session: Callable[[int], bool], refresh_sessions: Callable[[], None],
                 results_path: Callable[[int], Path | None]) -> None:
        super().__init__(parent)
        self.parent_widget, self.model, self.prefs, self.queue = parent, model, prefs, queue
        self._workspace, self.sessions, self.review, self.video = workspace, sessions_panel, review, video
        self.open_session, self.refresh_sessions, self.results_path = open_session, refresh_sessions, results_path
        self.live: SessionData | None = None
        self.quitting = False
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.timeout.connect(self._live_redraw)
        queue.started.connect(self._on_started)
        queue.progress.connect(self._on_progress)
        queue.finished.connect(self._on_finished)
        queue.cancelled.connect(self._on_cancelled)
        queue.failed.connect(self._on_failed)
        queue.idle.connect(sessions_panel.hide_progress)

    @property
    def _ws(self) -> Any:
        return self._workspace()

    def live_data(self, session_id: int) -> SessionData | None:
        """The data the running analysis of ``session_id`` is filling (None when it is not running)."""
        running = self.queue.running
        if running is not None and running.session_id == session_id:
            return self.live
        return None

    # -- queueing ------------------------------------------------------------------------------
    def confirm_reanalysis(self, session_id: int) -> bool:
        """Ask before analysing a session again that already has complete results."""
        answer = QMessageBox.question(
            self.parent_widget, "Analyse again",
            f"Session #{session_id} is already analysed. Analyse it again?\n"
            "Its current results stay in use until the new analysis is complete.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def analyse(self, session_id: int, resume: bool = False, confirm: bool = True) -> bool:
        """Queue a session (resumes a ``.partial`` when there is one); False when refused or declined."""
        from facelens.core.workspace import SessionStatus, WorkspaceError
        from facelens.gui.dialogs import show_error

        ws = self._ws
        if self.queue.contains(session_id):
            self.model.message = f"Session #{session_id} is already queued"
            return False
        if confirm and not resume and self.results_path(session_id) is not None \
                and not self.confirm_reanalysis(session_id):
            return False
        rec = ws.get_session(session_id)
        out = Path(ws.results_path_for(session_id))
        partial = out.with_name(out.name + ".partial")
        job = AnalysisJob(session_id, Path(rec.video_path), out, device=self.prefs.device,
                          resume=resume or partial.exists(), va=self.prefs.va_estimator,
                          reconstruction=self.prefs.reconstruction)
        from facelens.core.analysis.preflight import check_models, model_error_line
        from facelens.core.registry import ModelError

        try:  # missing/corrupt weights: say so now, not minutes later in the queue
            check_models()
        except ModelError as exc:
            show_error(self.parent_widget, "Analyse", model_error_line(exc))
            return False
        try:  # refused while another FaceLens analyses this session (its lease names it)
            ws.set_session_status(session_id, SessionStatus.QUEUED, progress=0.0)
        except WorkspaceError as exc:
            show_error(self.parent_widget, "Analyse", str(exc))
            return False
        self.queue.enqueue(job)
        self.refresh_sessions()
        self.sessions.set_status(session_id, "queued")
        self.model.message = f"Session #{session_id} queued for analysis; it starts in a moment"
        if self.model.session_id == session_id and self.review.data is None:
            self.video.clear(f"session #{session_id}\nqueued for analysis — the curves appear as frames "
                                  "are analysed")
        return True

    # -- worker signals ------------------------------------------------------------------------
    def _on_started(self, session_id: int) -> None:
        from facelens.core.workspace import SessionStatus

        if self._ws is None:  # the workspace was closed meanwhile
            return
        self._ws.set_session_status(session_id, SessionStatus.ANALYSING, progress=0.0)
        self.refresh_sessions()
        self.model.message = f"Analysing session #{session_id}…"
        job = self.queue.running
        self.live = SessionData.live_session(0.0, job.video, title=f"session #{session_id}")
        if self.model.session_id == session_id:
            self.open_session(session_id)

    def _on_progress(self, session_id: int, done: int, total: int, rate: float, eta: float,
                     partial: dict) -> None:
        from facelens.core.workspace import SessionStatus

        if self._ws is None:
            return
        frac = done / total if total else 0.0
        self.sessions.show_progress(session_id, done, total, rate, eta,
                                         self._ws.get_session(session_id).patient_code)
        if int(100 * frac) % 5 == 0:  # persisted now and then: a crash shows how far it got
            self._ws.set_session_status(session_id, SessionStatus.ANALYSING, progress=frac)
        live = self.live
        if live is not None and partial:
            job = self.queue.running
            if total and job is not None:  # the recording's length, from the worker's frame count
                live.duration_s = max(live.duration_s, total / job.fps)
            live.append_batch(partial)
            if self.model.session_id == session_id and self.review.data is live \
                    and not self._live_timer.isActive():
                self._live_timer.start(LIVE_REDRAW_MS)  # coalesced: plotting never crowds the event loop

    def _live_redraw(self) -> None:
        review = self.review
        if self.live is not None and review.data is self.live:
            review.update_times()
            review.refresh_series(keep_range=True)

    def _on_finished(self, session_id: int, path: str) -> None:
        from facelens.core.workspace import RunStatus, SessionStatus

        if self._ws is None:
            return
        params, models = {}, []
        try:
            from facelens.core.results import SessionResults

            with SessionResults.open(path) as r:
                params, models = r.params, r.models
        except Exception:  # noqa: BLE001, S110 - the run is recorded without its params; the file opens later
            pass
        self._ws.record_run(session_id, path, params, models, status=RunStatus.COMPLETE)
        self._ws.set_session_status(session_id, SessionStatus.ANALYSED)
        self.live = None
        self.refresh_sessions()
        self.model.data_changed()  # a new analysis: patient-level results are out of date
        self.model.message = f"Session #{session_id} analysed"
        if self.model.session_id == session_id:
            t = self.review.playhead
            self.open_session(session_id)
            self.review.seek(t)

    def _on_cancelled(self, session_id: int) -> None:
        from facelens.core.workspace import SessionStatus

        if self._ws is None:
            return
        self.live = None
        if self.quitting:  # on quit it stays "analysing" so the next start resumes it
            return
        if self.results_path(session_id) is not None:  # a re-analysis: the old results still open
            self._ws.set_session_status(session_id, SessionStatus.ANALYSED,
                                        reason="re-analysis cancelled; the earlier results are kept")
            self.model.message = f"Re-analysis of session #{session_id} cancelled; its earlier results are kept"
        else:
            self._ws.set_session_status(session_id, SessionStatus.NOT_ANALYSED, reason="cancelled (can be resumed)")
            self.model.message = f"Analysis of session #{session_id} cancelled; Analyse resumes it"
        self.refresh_sessions()
        if self.model.session_id == session_id:
            self.open_session(session_id)

    def _on_failed(self, session_id: int, reason: str) -> None:
        from facelens.core.workspace import SessionStatus

        if self._ws is None:
            return
        self.live = None
        self._ws.set_session_status(session_id, SessionStatus.FAILED, reason=reason)
        self.refresh_sessions()
        self.model.message = f"Analysis of session #{session_id} failed: {reason}"
