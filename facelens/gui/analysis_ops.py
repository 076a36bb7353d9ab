"""The main window's side of background analysis: queue sessions, follow the worker's signals, record
every status change in the workspace (on the GUI thread) and feed partial results to the open view.
A mixin of :class:`facelens.gui.main_window.MainWindow`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from facelens.gui.analysis import AnalysisJob
from facelens.gui.session_data import SessionData

LIVE_REDRAW_MS = 400  # the curves fill in ~2.5 times a second while an analysis runs


class AnalysisOps:
    """Mixin: ``analyse`` and the handlers of :class:`facelens.gui.analysis.AnalysisQueue` signals."""

    workspace: Any
    session_id: int | None

    # -- analysis ------------------------------------------------------------------------------
    _live: SessionData | None = None

    def analyse(self, session_id: int, resume: bool = False) -> None:
        """Queue a session for background analysis (resumes a ``.partial`` when there is one)."""
        from facelens.core.workspace import SessionStatus, WorkspaceError

        rec = self.workspace.get_session(session_id)
        out = Path(self.workspace.results_path_for(session_id))
        partial = out.with_name(out.name + ".partial")
        device = str(self.settings.value("analysis/device", "auto") or "auto")
        job = AnalysisJob(session_id, Path(rec.video_path), out, device=device, resume=resume or partial.exists())
        try:  # refused while another FaceLens analyses this session (its lease names it)
            self.workspace.set_session_status(session_id, SessionStatus.QUEUED, progress=0.0)
        except WorkspaceError as exc:
            from facelens.gui.dialogs import show_error

            show_error(self, "Analyse", str(exc))
            return
        self.queue.enqueue(job)
        self.refresh_sessions()

    def _on_analysis_started(self, session_id: int) -> None:
        from facelens.core.workspace import SessionStatus

        if self.workspace is None:  # the workspace was closed meanwhile
            return

        self.workspace.set_session_status(session_id, SessionStatus.ANALYSING, progress=0.0)
        self.refresh_sessions()
        job = self.queue.running
        try:
            from facelens.core.media.video import open_session

            with_info = open_session(job.video)
            duration = float(with_info.info.duration_s)
            close = getattr(with_info, "close", None)
            if callable(close):
                close()
        except Exception:  # noqa: BLE001 - the worker will report the real reason
            duration = 0.0
        self._live = SessionData.live_session(duration, job.video, title=f"session #{session_id}")
        self._live_dirty = False
        if self.session_id == session_id:
            self.open_session(session_id)

    def _on_analysis_progress(self, session_id: int, done: int, total: int, rate: float, eta: float,
                              partial: dict) -> None:
        from facelens.core.workspace import SessionStatus

        if self.workspace is None:  # the workspace was closed meanwhile
            return

        frac = done / total if total else 0.0
        self.sessions.show_progress(session_id, done, total, rate, eta,
                                    self.workspace.get_session(session_id).patient_code)
        # Persist the progress now and then (cheap), so a crash shows how far it got.
        if int(100 * frac) % 5 == 0:
            self.workspace.set_session_status(session_id, SessionStatus.ANALYSING, progress=frac)
        if self._live is not None and partial:
            self._live.append_batch(partial)
            if self.session_id == session_id and self.review.data is self._live:
                self._schedule_live_redraw()

    def _schedule_live_redraw(self) -> None:
        """Coalesce redraws of the growing curves: at most one every ``LIVE_REDRAW_MS``, however many
        batches arrive, so that plotting never competes with the event loop."""
        from PySide6.QtCore import QTimer

        if getattr(self, "_live_timer", None) is None:
            self._live_timer = QTimer(self)
            self._live_timer.setSingleShot(True)
            self._live_timer.timeout.connect(self._live_redraw)
        if not self._live_timer.isActive():
            self._live_timer.start(LIVE_REDRAW_MS)

    def _live_redraw(self) -> None:
        if self._live is not None and self.review.data is self._live:
            self.review.update_times()
            self.review.refresh_series(keep_range=True)

    def _on_analysis_finished(self, session_id: int, path: str) -> None:
        from facelens.core.workspace import RunStatus, SessionStatus

        if self.workspace is None:  # the workspace was closed meanwhile
            return

        params, models = {}, []
        try:
            from facelens.core.results import SessionResults

            with SessionResults.open(path) as r:
                params, models = r.params, r.models
        except Exception:  # noqa: BLE001, S110 - the run is recorded without its params; the file opens later
            pass
        self.workspace.record_run(session_id, path, params, models, status=RunStatus.COMPLETE)
        self.workspace.set_session_status(session_id, SessionStatus.ANALYSED)
        self._live = None
        self.refresh_sessions()
        self.model.data_changed()  # a new analysis: patient-level results are out of date
        self.statusBar().showMessage(f"Session #{session_id} analysed", 8000)
        if self.session_id == session_id:
            t = self.review.playhead
            self.open_session(session_id)
            self.review.seek(t)

    def _on_analysis_cancelled(self, session_id: int) -> None:
        from facelens.core.workspace import SessionStatus

        if self.workspace is None:  # the workspace was closed meanwhile
            return

        self._live = None
        if not self._quitting:  # on quit it stays "analysing" so the next start resumes it
            self.workspace.set_session_status(session_id, SessionStatus.NOT_ANALYSED,
                                              reason="cancelled (can be resumed)")
            self.refresh_sessions()
            self.statusBar().showMessage(f"Analysis of session #{session_id} cancelled; Analyse resumes it", 8000)

    def _on_analysis_failed(self, session_id: int, reason: str) -> None:
        from facelens.core.workspace import SessionStatus

        if self.workspace is None:  # the workspace was closed meanwhile
            return

        self._live = None
        self.workspace.set_session_status(session_id, SessionStatus.FAILED, reason=reason)
        self.refresh_sessions()
        self.statusBar().showMessage(f"Analysis of session #{session_id} failed: {reason}", 15000)

