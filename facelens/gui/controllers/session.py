"""The session controller: open a session in the review views, close it, and keep the open session and
its patient in the model.

A session with results opens from its results file, read in a worker (:func:`facelens.gui.jobs.run_job`:
checksums and per-frame columns; a 30-minute session took about 150 ms, an hour 300–470 ms, on the
GUI thread); the session a running analysis is filling opens from the live data; an unanalysed
session can still be watched (the video alone, its length read by the frame loader's thread). Nothing
here decodes video or reads a results file on the GUI thread. A request to open a session while one
is being read is kept and served when the read ends (the latest request wins). Failures are one-line
message boxes or status messages, never a traceback.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QWidget

from facelens.gui.dialogs import show_error
from facelens.gui.jobs import JobCancelled, JobFailed, run_job
from facelens.gui.session_data import SessionData
from facelens.gui.video_view import FrameLoader
from facelens.viewmodel.app_model import AppModel

MODELS_LABEL_PX = 320  # widest the "Models: …" status-bar label may be


class SessionViews:
    """The widgets the session controller drives (passed in by the window)."""

    def __init__(self, *, review: Any, measures: Any, video: Any, face: Any, sessions: Any, banner: Any,
                 models_label: Any, time_label: Callable[[float], None]) -> None:
        self.review, self.measures, self.video, self.face = review, measures, video, face
        self.sessions, self.banner, self.models_label, self.time_label = sessions, banner, models_label, time_label


class SessionController(QObject):
    """Opens and closes sessions of the open workspace.

    Parameters
    ----------
    parent : QWidget
        Parent of message boxes.
    model : AppModel
        ``session_id`` / ``patient_id`` of the open session; ``message`` for the status bar.
    views : SessionViews
    workspace : callable
        Returns the open ``Workspace`` (or None).
    annotation : AnnotationController
        Its editor follows the open session (``open(session_id, duration)`` / ``close()``).
    live_data : callable
        ``live_data(session_id)``: the data a running analysis of that session is filling, or None.
    """

    def __init__(self, parent: QWidget, model: AppModel, views: SessionViews, workspace: Callable[[], Any],
                 annotation: Any, live_data: Callable[[int], SessionData | None]) -> None:
        super().__init__(parent)
        self.parent_widget, self.model, self.v = parent, model, views
        self._ws, self.annotation, self._live_data = workspace, annotation, live_data
        self._reading = False
        self._pending: int | None = None  # asked for while another session was being read
        self._closes = 0  # a session closed (or a workspace changed) while a file was read: not shown

    # -- the open session lives in the model ---------------------------------------------------
    def set_current(self, session_id: int | None) -> None:
        """Open session (and with it the patient) in the model; a new patient clears its results."""
        pid = None
        ws = self._ws()
        if session_id is not None and ws is not None:
            pid = int(ws.get_session(int(session_id)).patient_id)
        self.model.session_id = None if session_id is None else int(session_id)
        self.model.patient_id = pid

    def results_path(self, session_id: int) -> Path | None:
        from facelens.core.report_content.provenance import session_results_path

        p = session_results_path(self._ws(), session_id)  # the same file the report reads
        return p if p.is_file() else None

    # -- open / close --------------------------------------------------------------------------
    def open(self, session_id: int) -> bool:
        """Show a session: its results when analysed, the live data when it is being analysed."""
        if self._reading:
            self._pending = int(session_id)
            return False
        opened = self._open(session_id)
        while self._pending is not None:
            sid, self._pending = self._pending, None
            opened = self._open(sid)
        return opened

    def _read(self, session_id: int, path: Path, video: Path, title: str) -> SessionData | None:
        """The results file opened (checksums verified) and its per-frame columns read in a worker."""
        from facelens.core.results import ResultsError, SessionResults

        def job(report: Any, cancelled: Any) -> SessionData | ResultsError:
            try:
                results = SessionResults.open(path)
            except ResultsError as exc:  # the user's one line, not a worker traceback
                return exc
            try:
                return SessionData.from_results(results, video, title=title)
            except BaseException:
                results.close()
                raise

        self._reading = True
        try:
            out: Any = run_job(self.parent_widget, "Open session", job, cancellable=False,
                               label=f"Reading the results of session #{session_id}…")
        except (JobFailed, JobCancelled) as exc:
            out = exc
        finally:
            self._reading = False
        if isinstance(out, Exception):
            show_error(self.parent_widget, "Open session", str(out) or "the results could not be read")
            return None
        return out

    def _open(self, session_id: int) -> bool:
        rec = self._ws().get_session(session_id)
        video = Path(rec.video_path)
        title = f"{rec.patient_code} · #{rec.id} {rec.scenario}"
        data = self._live_data(session_id)
        if data is None:
            path = self.results_path(session_id)
            if path is None:
                self.close()
                self.set_current(session_id)
                self.annotation.open(session_id, None)
                self._watch_unanalysed(session_id, video, title)
                return False
            closes = self._closes
            data = self._read(session_id, path, video, title)
            if data is None:
                return False
            if self._closes != closes:  # closed meanwhile: what was read is out of date
                data.close()
                return False
        v = self.v
        self.set_current(session_id)
        loader = FrameLoader(video) if video.is_file() else None
        if loader is not None:
            loader.failed.connect(self._say)
        elif not data.live:
            self.model.message = f"Recording not found: {video} (plots and mesh still shown)"
        v.review.set_session(data, loader, session_id)
        v.measures.set_results(data.results)  # None while an analysis is still filling the session
        v.time_label(v.review.playhead)  # "00:00.00 / <length>" at once, not after the first move
        self.annotation.open(session_id, data.duration_s)
        self._show_banner(data)
        self.show_models(data)
        v.sessions.select_session(session_id)
        return True

    def _say(self, text: str) -> None:
        self.model.message = text

    def _watch_unanalysed(self, session_id: int, video: Path, title: str) -> None:
        """An unanalysed session can still be watched: the video alone, its length read by the
        frame loader's thread (no curves, no mesh until it is analysed)."""
        v = self.v
        self.model.message = (f"Session #{session_id} is not analysed yet: you can watch it; "
                              "press Analyse for the curves and the face")
        if not video.is_file():
            v.video.clear(f"{title}\nnot analysed yet, and the recording is not found")
            return
        data = SessionData(0.0, video, title=title)
        loader = FrameLoader(video)
        loader.failed.connect(self._say)

        def opened(duration: float) -> None:
            if v.review.data is data:
                data.duration_s = duration
                v.review.update_times()
                v.review.refresh_series()
                v.time_label(v.review.playhead)
                v.review.show_current()

        loader.opened.connect(opened)
        v.review.set_session(data, loader, session_id)
        v.face.set_vertices(None, "not analysed yet", excluded=False)
        v.video.clear(f"{title}\nnot analysed yet — loading the video…")

    def close(self) -> None:
        self._closes += 1
        v = self.v
        v.review.set_session(None)
        v.measures.set_results(None)
        self.annotation.close()
        self.set_current(None)
        v.banner.hide()
        v.models_label.setText("")

    # -- what the window says about the open session -------------------------------------------
    def _show_banner(self, data: SessionData) -> None:
        banner = self.v.banner
        if data.is_demo:
            try:
                from facelens.core.demo.session import CAVEAT, NOTICE
            except Exception:  # noqa: BLE001
                NOTICE, CAVEAT = "Synthetic demo session; not a patient recording.", ""
            banner.setText(f"<b>Demo data.</b> {NOTICE} {CAVEAT}")
            banner.show()
        else:
            banner.hide()

    def show_models(self, data: Any) -> None:
        """The models that produced the session's results, elided in the status bar (full list as tip)."""
        names = []
        for m in data.models:
            if isinstance(m, dict):
                names.append(str(m.get("id", m.get("name", "?"))) + (f" {m['version']}" if m.get("version") else ""))
            else:
                names.append(str(m))
        label = self.v.models_label
        text = "Models: " + (", ".join(names) if names else "none recorded")
        # Elided to a third of the status bar: a long list hid the status messages beside it.
        label.setText(label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, MODELS_LABEL_PX))
        label.setToolTip(text)
