"""Main-window operations that take long: open the demo (built on first use) and import a video
(probed and hashed). Each runs in a worker via :func:`facelens.gui.jobs.run_job` with a progress dialog
and Cancel; the GUI thread only does the short SQLite writes. A mixin of ``MainWindow`` (the report
is ``controllers.report``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from facelens.gui.controllers.report import report_available
from facelens.gui.dialogs import AboutDialog, show_error
from facelens.gui.jobs import JobCancelled, JobFailed, hash_file, run_job


def _probe_and_hash(video: Path, report: Any, cancelled: Any) -> str:
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


class TaskOps:
    """Mixin: demo, import and report export off the GUI thread."""

    workspace: Any
    session_id: int | None

    def init_tasks(self) -> None:
        ok = report_available()
        self.report_action.setEnabled(ok)
        if not ok:
            self.report_action.setToolTip("available once the report module is installed")
            self.report_action.setStatusTip("available once the report module is installed")

    # -- demo ------------------------------------------------------------------------------
    def open_demo(self) -> bool:
        """Open the synthetic demo session in its own workspace, building it first if needed."""
        from facelens.gui.demo_loader import prepare_demo_in_worker

        try:
            folder, session_id = run_job(self, "Demo session", prepare_demo_in_worker,
                                         label="Preparing the synthetic demo session…")
        except JobCancelled:
            self.statusBar().showMessage("Demo preparation cancelled; it restarts the next time", 8000)
            return False
        except JobFailed as exc:
            show_error(self, "Demo session", f"The demo session could not be prepared: {exc}")
            return False
        if not self.open_workspace(folder, resume=False):
            return False
        return bool(self.open_session(session_id))

    # -- import ----------------------------------------------------------------------------
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
            sha = run_job(self, "Import session", lambda rep, canc: _probe_and_hash(video, rep, canc),
                          label=f"Checking {video.name}…")
            rec = self.workspace.import_session(video, patient, date=date, scenario=scenario, notes=notes,
                                                sha256=sha)
        except JobCancelled:
            self.statusBar().showMessage("Import cancelled", 5000)
            return None
        except (WorkspaceError, JobFailed, OSError, ValueError) as exc:
            show_error(self, "Import session", str(exc))
            return None
        self.refresh_sessions()
        self.sessions.select_session(rec.id)
        self.statusBar().showMessage(f"Imported session #{rec.id} for {rec.patient_code}", 5000)
        return int(rec.id)

    def about(self) -> None:
        AboutDialog(self, self.review.data.models if self.review.data is not None else None).exec()
