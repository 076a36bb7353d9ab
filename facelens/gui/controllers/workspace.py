"""The workspace controller: open, create and remember workspaces, import recordings, the demo, and
reopening where the user was (workspace, session, playhead) the next time FaceLens starts.

Long work runs in a worker behind a progress dialog with Cancel (:func:`facelens.gui.jobs.run_job`):
probing and hashing a recording on import, building the demo. The GUI thread only does the short
SQLite writes. Every user-facing failure is a one-line message box or status message.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from facelens.gui.dialogs import ImportSessionDialog, show_error
from facelens.gui.jobs import JobCancelled, JobFailed, hash_file, run_job
from facelens.viewmodel.app_model import AppModel
from facelens.viewmodel.settings import AppSettings


def probe_and_hash(video: Path, report: Any, cancelled: Any) -> str:
    """Refuse a file that is not a readable video or image, then hash it (worker thread).

    Without the probe a text file or a damaged download was imported, listed as "not analysed"
    and only failed minutes later in the analysis queue; now the import itself says why.
    """
    from facelens.core.media.video import VideoError, open_media

    try:
        session = open_media(video)
    except VideoError as exc:
        line = str(exc).strip().splitlines()[0]
        # "[Errno 1094995529] Invalid data found…" is FFmpeg's error code, not something to show.
        raise ValueError(re.sub(r"\[Errno -?\d+\]\s*", "", line)) from None
    close = getattr(session, "close", None)
    if callable(close):
        close()
    return hash_file(video, report, cancelled)


class WorkspaceController(QObject):
    """Owns the open :class:`~facelens.core.workspace.Workspace` (:attr:`workspace`).

    Parameters
    ----------
    window : QWidget
        Parent of dialogs and progress windows; its title names the open workspace.
    model, prefs
        The application model (``workspace``, ``session_id``, ``message``) and settings (recent
        workspaces, last session and playhead).
    sessions_panel : SessionsPanel
        Lists the workspace's sessions.
    recent_menu : QMenu
        File ▸ Recent workspaces.
    session : SessionController
        Opens and closes sessions (``open``, ``close``, ``results_path``).
    analyse : callable
        ``analyse(session_id, resume=, confirm=)``: queues a session (interrupted analyses resume).
    seek : callable
        ``seek(t)``: moves the playhead (the restored session's last position).
    """

    def __init__(self, window: QWidget, model: AppModel, prefs: AppSettings, sessions_panel: Any, recent_menu: Any,
                 session: Any, analyse: Callable[..., bool], seek: Callable[[float], None]) -> None:
        super().__init__(window)
        self.window, self.model, self.prefs = window, model, prefs
        self.panel, self.recent_menu, self.session = sessions_panel, recent_menu, session
        self._analyse, self._seek = analyse, seek
        self.workspace: Any = None
        sessions_panel.import_requested.connect(lambda: self.import_session())
        self.update_recent_menu()

    # -- workspace -----------------------------------------------------------------------------
    def choose_workspace(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Open or create a workspace folder")
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
            show_error(self.window, "Open workspace", str(exc))
            return False
        self.session.close()
        if self.workspace is not None:
            self.workspace.close()
        self.workspace = ws
        where = str(Path(folder).resolve())
        self.model.workspace = where
        self.window.setWindowTitle(f"FaceLens — {Path(folder).name}")
        self.prefs.remember_workspace(where)
        self.update_recent_menu()
        self.refresh_sessions()
        if resume:
            for rec in ws.interrupted_sessions():
                self.model.message = f"Resuming the interrupted analysis of session #{rec.id}"
                self._analyse(rec.id, resume=True, confirm=False)
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
            self.window, "Open workspace",
            f"{folder} is not a FaceLens workspace and already contains other files.\n"
            "Create a new workspace in this folder?")
        return answer == QMessageBox.StandardButton.Yes

    def recent_workspaces(self) -> list[str]:
        """The remembered workspace folders, newest first (``AppSettings.recent_workspaces``)."""
        return self.prefs.recent_workspaces

    def update_recent_menu(self) -> None:
        self.recent_menu.clear()
        recent = self.recent_workspaces()
        for folder in recent:
            act = self.recent_menu.addAction(str(folder))
            act.triggered.connect(lambda _=False, f=str(folder): self.open_workspace(f))
        self.recent_menu.setEnabled(bool(recent))

    def refresh_sessions(self) -> None:
        if self.workspace is not None:
            # The user's selection stays where it is (it used to jump back to the open session).
            self.panel.set_sessions(self.workspace.list_sessions())

    def close(self) -> None:
        """Close the workspace (on quit)."""
        if self.workspace is not None:
            self.workspace.close()
            self.workspace = None

    # -- where the user was ----------------------------------------------------------------------
    def remember_last_session(self, playhead: float) -> None:
        """On quit: the open session and playhead of the open workspace (none open: none reopens)."""
        if self.workspace is None:
            return
        sid = self.model.session_id
        self.prefs.last_session = sid
        self.prefs.last_playhead = playhead if sid is not None else 0.0

    def restore_last_session(self) -> bool:
        """On start: reopen the last workspace, its open session and the playhead; True when the
        session reopened (a session deleted since leaves the workspace alone open)."""
        last = self.prefs.last_workspace
        if not (last and Path(str(last)).is_dir() and self.open_workspace(str(last))):
            return False
        sid = self.prefs.last_session
        if sid is None:
            return False
        try:
            opened = bool(self.session.open(sid))
        except Exception:  # noqa: BLE001 - a session deleted since: the workspace alone opens
            self.session.close()
            return False
        if opened:
            self._seek(self.prefs.last_playhead)
        return opened

    # -- sessions --------------------------------------------------------------------------------
    def open_first_session(self) -> bool:
        """Open the first session that has results (screenshot runs of a workspace)."""
        if self.workspace is None:
            return False
        for rec in self.workspace.list_sessions():
            if self.session.results_path(rec.id) is not None:
                return bool(self.session.open(rec.id))
        return False

    def import_session(self, video: str | Path | None = None) -> int | None:
        """Ask for the session's details and import it; returns its id."""
        if self.workspace is None:
            self.choose_workspace()
            if self.workspace is None:
                return None
        patients = [p.code for p in self.workspace.list_patients()]
        dlg = ImportSessionDialog(self.window, video, patients)
        while True:  # a refused file reopens the dialog with everything typed so far
            if dlg.exec() != ImportSessionDialog.DialogCode.Accepted:
                return None
            sid = self.import_session_values(**dlg.values())
            if sid is not None:
                return sid

    def import_session_values(self, video: Path, patient: str, date: str = "", scenario: str = "other",
                              notes: str = "") -> int | None:
        """Import without a dialog (used by the dialog, drag-and-drop and tests).

        The video's SHA-256 (it identifies the recording in reports) is computed in a worker: a
        30-minute video is gigabytes and would otherwise freeze the window for many seconds.
        """
        from facelens.core.workspace import WorkspaceError, check_pseudonym

        video = Path(video)
        try:
            check_pseudonym(patient)
            if not video.is_file():
                raise WorkspaceError(f"video not found: {video}")
            sha = run_job(self.window, "Import session", lambda rep, canc: probe_and_hash(video, rep, canc),
                          label=f"Checking {video.name}…")
            rec = self.workspace.import_session(video, patient, date=date, scenario=scenario, notes=notes,
                                                sha256=sha)
        except JobCancelled:
            self.model.message = "Import cancelled"
            return None
        except (WorkspaceError, JobFailed, OSError, ValueError) as exc:
            show_error(self.window, "Import session", str(exc))
            return None
        self.refresh_sessions()
        self.panel.select_session(rec.id)
        self.model.message = f"Imported session #{rec.id} for {rec.patient_code}"
        return int(rec.id)

    def open_demo(self) -> bool:
        """Open the synthetic demo session in its own workspace, building it first if needed."""
        from facelens.gui.demo_loader import prepare_demo_in_worker

        try:
            folder, session_id = run_job(self.window, "Demo session", prepare_demo_in_worker,
                                         label="Preparing the synthetic demo session…")
        except JobCancelled:
            self.model.message = "Demo preparation cancelled; it restarts the next time"
            return False
        except JobFailed as exc:
            show_error(self.window, "Demo session", f"The demo session could not be prepared: {exc}")
            return False
        if not self.open_workspace(folder, resume=False):
            return False
        return bool(self.session.open(session_id))
