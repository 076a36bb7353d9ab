"""Main-window operations that take long: open the demo (built on first use), import a video (hashed),
export the PDF report. Each runs in a worker via :func:`facelens.gui.jobs.run_job` with a progress dialog
and Cancel; the GUI thread only does the short SQLite writes. A mixin of ``MainWindow``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from facelens.gui.dialogs import AboutDialog, show_error
from facelens.gui.jobs import JobCancelled, JobFailed, hash_file, run_job


def report_available() -> bool:
    """True when ``facelens.report`` offers ``build_report_for_session`` (the report engineer's API)."""
    try:
        from facelens import report

        return callable(getattr(report, "build_report_for_session", None))
    except Exception:  # noqa: BLE001 - a broken optional module only disables the menu entry
        return False


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
        return bool(self.open_media(session_id))

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

    # -- report ----------------------------------------------------------------------------
    def export_report(self) -> Path | None:
        """Ask for the options, write the PDF in a worker, then show its first pages."""
        from facelens.gui.report_dialog import ReportDialog, ReportPreview

        if not report_available():
            show_error(self, "Export report", "The report module is not installed in this build.")
            return None
        if self.workspace is None or self.session_id is None or self.review.data is None:
            show_error(self, "Export report", "Open an analysed session first.")
            return None
        dlg = ReportDialog(self, self.settings, self.default_report_path())
        if dlg.exec() != ReportDialog.DialogCode.Accepted:
            return None
        opts = dlg.values()
        path = self.write_report(opts.pop("out"), **opts)
        if path is not None and dlg.preview_wanted():
            ReportPreview(self, path).exec()
        return path

    def default_report_path(self) -> Path:
        """``<workspace>/reports/<pseudonym>_<today>_session-<id>.pdf`` (the folder is created)."""
        import datetime as dt

        rec = self.workspace.get_session(int(self.session_id))
        from facelens.core.common.atomic import make_private_dirs

        folder = Path(self.workspace.folder) / "reports"
        try:
            make_private_dirs(folder)
        except OSError:  # read-only workspace: the dialog says the folder does not exist
            pass
        return folder / f"{rec.patient_code}_{dt.date.today().isoformat()}_session-{rec.id}.pdf"

    def write_report(self, out: str | Path, **options: Any) -> Path | None:
        """Write the open session's report (no dialog; used by ``export_report`` and tests).

        With the model output included, a BD-vs-MDD result on screen that no longer matches the
        patient's data is refused here (and again by the report builder, which compares the inputs'
        fingerprint ``expected_inputs`` with the workspace at the moment it writes).
        """
        from facelens.core.workspace import Workspace

        folder, sid = Path(self.workspace.folder), int(self.session_id)
        if self.prefs.model_path and "model_path" not in options:
            options["model_path"] = self.prefs.model_path
        if options.get("use_model", True):
            self.diagnosis_ctl.refresh_inputs()
            fresh = self.model.diagnosis_freshness
            if fresh.state == "stale":
                show_error(self, "Export report", f"The BD-vs-MDD result on screen is out of date ({fresh.reason}). "
                           "Press Compute (Ctrl+D) first, or leave the model output out of the report.")
                return None
            if fresh.current and self.model.diagnosis is not None:
                options.setdefault("expected_inputs", self.model.diagnosis.key.digest)

        def job(report: Any, cancelled: Any) -> Path:
            import facelens.report as rep

            report(float("nan"), "Computing the report's figures and tables…")
            # The worker opens its own workspace handle: SQLite connections stay in their thread.
            with Workspace.open(folder) as ws:
                return Path(rep.build_report_for_session(ws, sid, out, **options))

        try:
            path = run_job(self, "Export report", job, label="Writing the PDF report…", cancellable=False)
        except (JobCancelled, JobFailed) as exc:
            show_error(self, "Export report", f"The report could not be written: {exc}")
            return None
        self.statusBar().showMessage(f"Report written: {path}", 10000)
        return path

    def about(self) -> None:
        AboutDialog(self, self.review.data.models if self.review.data is not None else None).exec()
