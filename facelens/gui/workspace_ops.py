"""What the main window does with the workspace: open it, import and open sessions. A mixin of
:class:`MainWindow` (segment editing is in ``controllers.annotation``, analyses in
``controllers.analysis``, the diagnosis in ``controllers.diagnosis``).

Every user-facing failure becomes a one-line message box or status-bar message, never a traceback.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox

from facelens.gui.dialogs import ImportSessionDialog, PreferencesDialog, show_error
from facelens.gui.session_data import SessionData
from facelens.gui.video_view import FrameLoader

MODELS_LABEL_PX = 320  # widest the "Models: …" status-bar label may be


class WorkspaceOps:
    """Mixin with the workspace, session, analysis and segment operations of the main window."""

    workspace: Any
    session_id: int | None

    def init_ops(self) -> None:
        self.workspace = None
        self.session_id = None
        a = self.annotation_ctl
        s = self.sessions
        s.import_requested.connect(lambda: self.import_session())
        s.open_requested.connect(self.open_session)
        s.analyse_requested.connect(self.analyse)
        s.cancel_requested.connect(self.queue.cancel)
        t = self.timeline
        t.create_requested.connect(a.create)
        t.segment_edited.connect(lambda sid, t0, t1: a.edit(sid, start_s=t0, end_s=t1))
        t.segment_clicked.connect(a.select)
        p = self.segments
        p.jump_requested.connect(lambda t0: self.review.seek(t0, follow=True))
        p.selected.connect(a.select)
        p.edit_requested.connect(lambda sid, fields: a.edit(sid, **fields))
        p.delete_requested.connect(a.delete)
        p.sample_requested.connect(a.sample_clips)
        self._update_recent_menu()

    # -- workspace -----------------------------------------------------------------------------
    def choose_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open or create a workspace folder")
        if folder:
            self.open_workspace(folder)

    def open_workspace(self, folder: str | Path, resume: bool = True, create: bool = True) -> bool:
        """Open (or, with ``create``, create) a workspace; interrupted analyses are queued to resume."""
        from facelens.core.workspace import Workspace, WorkspaceError

        if create and not self._confirm_new_workspace(Path(folder)):
            return False
        try:
            ws = Workspace.open(Path(folder), create=create)
        except WorkspaceError as exc:
            show_error(self, "Open workspace", str(exc))
            return False
        self.close_session()
        if self.workspace is not None:
            self.workspace.close()
        self.workspace = ws
        self.model.workspace = str(Path(folder).resolve())
        self.setWindowTitle(f"FaceLens — {Path(folder).name}")
        self._remember_workspace(str(Path(folder).resolve()))
        self.refresh_sessions()
        if resume:
            for rec in ws.interrupted_sessions():
                self.statusBar().showMessage(f"Resuming the interrupted analysis of session #{rec.id}", 8000)
                self.analyse(rec.id, resume=True, confirm=False)
        return True

    def _confirm_new_workspace(self, folder: Path) -> bool:
        """Ask before turning a folder that already holds other files into a workspace.

        Picking e.g. the Documents folder by mistake used to create ``workspace.sqlite`` and
        ``analyses/`` in it without a word; a missing or empty folder is created silently as before.
        """
        from facelens.core.workspace import DB_NAME

        try:
            if not folder.is_dir() or (folder / DB_NAME).exists() or not any(folder.iterdir()):
                return True
        except OSError:  # unreadable: Workspace.open reports the reason in one line
            return True
        answer = QMessageBox.question(
            self, "Open workspace",
            f"{folder} is not a FaceLens workspace and already contains other files.\n"
            "Create a new workspace in this folder?")
        return answer == QMessageBox.StandardButton.Yes

    def recent_workspaces(self) -> list[str]:
        """The remembered workspace folders, newest first (``AppSettings.recent_workspaces``)."""
        return self.prefs.recent_workspaces

    def _remember_workspace(self, folder: str) -> None:
        self.prefs.remember_workspace(folder)
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_workspaces()
        for folder in recent:
            act = self.recent_menu.addAction(str(folder))
            act.triggered.connect(lambda _=False, f=str(folder): self.open_workspace(f))
        self.recent_menu.setEnabled(bool(recent))

    def open_first_session(self) -> bool:
        """Open the first session that has results (screenshot runs of a workspace)."""
        if self.workspace is None:
            return False
        for rec in self.workspace.list_sessions():
            if self.results_path(rec.id) is not None:
                return self.open_session(rec.id)
        return False

    def refresh_sessions(self) -> None:
        if self.workspace is not None:
            # The user's selection stays where it is (it used to jump back to the open session).
            self.sessions.set_sessions(self.workspace.list_sessions())

    def import_session(self, video: str | Path | None = None) -> int | None:
        """Ask for the session's details and import it; returns its id."""
        if self.workspace is None and not self._ensure_workspace():
            return None
        patients = [p.code for p in self.workspace.list_patients()]
        dlg = ImportSessionDialog(self, video, patients)
        while True:  # a refused file reopens the dialog with everything typed so far
            if dlg.exec() != ImportSessionDialog.DialogCode.Accepted:
                return None
            sid = self.import_session_values(**dlg.values())
            if sid is not None:
                return sid

    def _ensure_workspace(self) -> bool:
        self.choose_workspace()
        return self.workspace is not None

    # -- sessions ------------------------------------------------------------------------------
    def results_path(self, session_id: int) -> Path | None:
        from facelens.core.report_content.provenance import session_results_path

        p = session_results_path(self.workspace, session_id)  # the same file the report reads
        return p if p.is_file() else None

    def open_session(self, session_id: int) -> bool:
        """Show a session: its results when analysed, the live data when it is being analysed."""
        from facelens.core.results import ResultsError, SessionResults

        rec = self.workspace.get_session(session_id)
        video = Path(rec.video_path)
        title = f"{rec.patient_code} · #{rec.id} {rec.scenario}"
        running = self.queue.running
        if running is not None and running.session_id == session_id and self._live is not None:
            data = self._live
        else:
            path = self.results_path(session_id)
            if path is None:
                self.close_session()
                self.session_id = session_id
                self._open_editor(session_id, None)
                self._watch_unanalysed(session_id, video, title)
                return False
            try:
                results = SessionResults.open(path)
            except ResultsError as exc:
                show_error(self, "Open session", str(exc))
                return False
            data = SessionData.from_results(results, video, title=title)
        self.session_id = session_id
        loader = FrameLoader(video) if video.is_file() else None
        if loader is not None:
            loader.failed.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        elif not data.live:
            self.statusBar().showMessage(f"Recording not found: {video} (plots and mesh still shown)", 10000)
        self.review.set_session(data, loader, session_id)
        self.measures.set_results(data.results)  # None while an analysis is still filling the session
        self._on_playhead(self.review.playhead)  # "00:00.00 / <length>" at once, not after the first move
        self._open_editor(session_id, data)
        self._show_banner(data)
        self._show_models(data)
        self.sessions.select_session(session_id)
        return True

    def _watch_unanalysed(self, session_id: int, video: Path, title: str) -> None:
        """An unanalysed session can still be watched: the video alone, its length read by the
        frame loader's thread (no curves, no mesh until it is analysed)."""
        self.statusBar().showMessage(f"Session #{session_id} is not analysed yet: you can watch it; "
                                     "press Analyse for the curves and the face", 10000)
        if not video.is_file():
            self.video.clear(f"{title}\nnot analysed yet, and the recording is not found")
            return
        data = SessionData(0.0, video, title=title)
        loader = FrameLoader(video)
        loader.failed.connect(lambda msg: self.statusBar().showMessage(msg, 8000))

        def opened(duration: float) -> None:
            if self.review.data is data:
                data.duration_s = duration
                self.review.update_times()
                self.review.refresh_series()
                self._on_playhead(self.review.playhead)
                self.review.show_current()

        loader.opened.connect(opened)
        self.review.set_session(data, loader, session_id)
        self.face.set_vertices(None, "not analysed yet", excluded=False)
        self.video.clear(f"{title}\nnot analysed yet — loading the video…")

    def _open_editor(self, session_id: int, data: SessionData | None) -> None:
        self.annotation_ctl.open(session_id, data.duration_s if data is not None else None)

    def close_session(self) -> None:
        self.review.set_session(None)
        self.measures.set_results(None)
        self.annotation_ctl.close()
        self.session_id = None
        self.banner.hide()
        self.models_label.setText("")

    def _show_banner(self, data: SessionData) -> None:
        if data.is_demo:
            try:
                from facelens.core.demo.session import CAVEAT, NOTICE
            except Exception:  # noqa: BLE001
                NOTICE, CAVEAT = "Synthetic demo session; not a patient recording.", ""
            self.banner.setText(f"<b>Demo data.</b> {NOTICE} {CAVEAT}")
            self.banner.show()
        else:
            self.banner.hide()

    def _show_models(self, data: SessionData) -> None:
        names = []
        for m in data.models:
            if isinstance(m, dict):
                names.append(str(m.get("id", m.get("name", "?"))) + (f" {m['version']}" if m.get("version") else ""))
            else:
                names.append(str(m))
        from PySide6.QtCore import Qt

        text = "Models: " + (", ".join(names) if names else "none recorded")
        # Elided to a third of the status bar: a long list hid the status messages beside it.
        shown = self.models_label.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, MODELS_LABEL_PX)
        self.models_label.setText(shown)
        self.models_label.setToolTip(text)

    # -- other menu entries ------------------------------------------------------------------
    def preferences(self) -> None:
        if PreferencesDialog(self.settings, self).exec() and self.editor is not None:
            self.editor.author = self.prefs.author

    # -- drag and drop, closing ----------------------------------------------------------------
    def dragEnterEvent(self, ev: Any) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev: Any) -> None:
        urls = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.import_session(urls[0])

    def closeEvent(self, ev: Any) -> None:
        if self.queue.is_busy() and not getattr(self, "force_quit", False):
            answer = QMessageBox.question(
                self, "Quit FaceLens", "An analysis is running. Stop it and quit?\n"
                "It will resume the next time this workspace is opened.")
            if answer != QMessageBox.StandardButton.Yes:
                ev.ignore()
                return
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        """Stop workers and threads, save the layout, close the workspace (idempotent)."""
        self.analysis_ctl.quitting = True
        if self.workspace is not None and self.session_id is not None:  # reopened where the user was
            self.prefs.last_session = self.session_id
            self.prefs.last_playhead = self.review.playhead
        self.queue.stop_all()
        self.review.close()
        self.save_layout()
        self.face.close_scene()
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None
