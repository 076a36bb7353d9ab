"""The report controller: *Export report…* — options, the workspace's default path, the stale-result
refusal, writing the PDF in a worker and the preview.

A BD-vs-MDD result on screen that no longer matches the patient's data (``AppModel.diagnosis_freshness``)
is refused before anything is written; a current one is passed on as ``expected_inputs`` so the report
builder checks the fingerprint again when it writes.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from facelens.gui.dialogs import show_error
from facelens.gui.jobs import JobCancelled, JobFailed, run_job
from facelens.viewmodel.app_model import AppModel
from facelens.viewmodel.settings import AppSettings


def report_available() -> bool:
    """True when ``facelens.report`` offers ``build_report_for_session``."""
    try:
        from facelens import report

        return callable(getattr(report, "build_report_for_session", None))
    except Exception:  # noqa: BLE001 - a broken optional module only disables the menu entry
        return False


class ReportController(QObject):
    """Writes the open session's report.

    ``parent`` is the dialogs' parent; ``workspace()`` returns the open ``Workspace``; ``review``
    tells whether the open session's data is on screen (``review.data``).
    """

    def __init__(self, parent: QWidget, model: AppModel, prefs: AppSettings, *, workspace: Callable[[], Any],
                 review: Any) -> None:
        super().__init__(parent)
        self.parent_widget, self.model, self.prefs, self._ws, self.review = parent, model, prefs, workspace, review

    def export_report(self) -> Path | None:
        """Ask for the options, write the PDF in a worker, then show its first pages."""
        from facelens.gui.report_dialog import ReportDialog, ReportPreview

        if not report_available():
            show_error(self.parent_widget, "Export report", "The report module is not installed in this build.")
            return None
        if self._ws() is None or self.model.session_id is None or self.review.data is None:
            show_error(self.parent_widget, "Export report", "Open an analysed session first.")
            return None
        dlg = ReportDialog(self.parent_widget, self.prefs.store, self.default_report_path())
        if dlg.exec() != ReportDialog.DialogCode.Accepted:
            return None
        opts = dlg.values()
        path = self.write_report(opts.pop("out"), **opts)
        if path is not None and dlg.preview_wanted():
            ReportPreview(self.parent_widget, path).exec()
        return path

    def default_report_path(self) -> Path:
        """``<workspace>/reports/<pseudonym>_<today>_session-<id>.pdf`` (the folder is created)."""
        import datetime as dt

        rec = self._ws().get_session(int(self.model.session_id))
        from facelens.core.common.atomic import make_private_dirs

        folder = Path(self._ws().folder) / "reports"
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

        folder, sid = Path(self._ws().folder), int(self.model.session_id)
        if self.prefs.model_path and "model_path" not in options:
            options["model_path"] = self.prefs.model_path
        if options.get("use_model", True):
            # The model's inputs key is kept current by the diagnosis controller on every change; a
            # change made outside this window is caught by the report builder (``expected_inputs``).
            fresh = self.model.diagnosis_freshness
            if fresh.state == "stale":
                show_error(self.parent_widget, "Export report", f"The BD-vs-MDD result on screen is out of date ({fresh.reason}). "
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
            path = run_job(self.parent_widget, "Export report", job, label="Writing the PDF report…", cancellable=False)
        except (JobCancelled, JobFailed) as exc:
            show_error(self.parent_widget, "Export report", f"The report could not be written: {exc}")
            return None
        self.model.message = f"Report written: {path}"
        return path
