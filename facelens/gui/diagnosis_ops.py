"""Main-window side of the Diagnosis panel: run ``core.diagnosis.predict_subject`` over the open
patient's analysed sessions in a worker, record the output (probability or refusal) in the workspace
(which also writes the audit log), and the "Cohort…" dialog. A mixin of ``MainWindow``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from facelens.gui.cohort_dialog import MODEL_KEY, CohortDialog
from facelens.gui.dialogs import show_error
from facelens.gui.jobs import JobCancelled, JobFailed, run_job


class DiagnosisOps:
    """Mixin: ``compute_diagnosis()`` and ``open_cohort()``."""

    workspace: Any
    session_id: int | None

    def init_diagnosis(self) -> None:
        p = self.diagnosis
        p.compute_requested.connect(self.compute_diagnosis)
        p.cohort_requested.connect(self.open_cohort)
        self._show_model_name()

    def _model_path(self) -> str:
        return str(self.settings.value(MODEL_KEY, "") or "")

    def _show_model_name(self) -> None:
        path = self._model_path()
        self.diagnosis.set_model_name(Path(path).name if path else "shipped reference model (simulated data)")

    def open_cohort(self) -> None:
        CohortDialog(self, self.settings).exec()
        self._show_model_name()
        self.diagnosis.clear()

    def compute_diagnosis(self) -> Any:
        """Predict for the open session's patient; returns the ``Prediction``/``Refusal`` (or None)."""
        if self.workspace is None or self.session_id is None:
            show_error(self, "Diagnosis support", "Open an analysed session first.")
            return None
        rec = self.workspace.get_session(self.session_id)
        inputs = []  # (results path, segments) of every analysed session of this patient
        for s in self.workspace.list_sessions(rec.patient_id):
            path = self.results_path(s.id)
            if path is not None:
                inputs.append((path, self.workspace.segments(s.id)))
        model_path = self._model_path() or None

        def job(report: Any, cancelled: Any) -> tuple[Any, dict[str, Any]]:
            from contextlib import ExitStack

            from facelens.core.diagnosis.model import load_model, predict_subject
            from facelens.core.results import SessionResults

            report(float("nan"), f"Computing features of {len(inputs)} session(s)…")
            model = load_model(model_path)
            with ExitStack() as stack:
                sessions = [(stack.enter_context(SessionResults.open(p)), segs) for p, segs in inputs]
                return predict_subject(model, sessions), model.card

        try:
            result, card = run_job(self, "Diagnosis support", job, label="Running the BD-vs-MDD model…",
                                   cancellable=False)
        except (JobCancelled, JobFailed) as exc:
            show_error(self, "Diagnosis support", f"The model could not be run: {exc}")
            return None
        self.diagnosis.show_result(result, card)
        self.docks["diagnosis"].show()
        self._record(result, card, rec)
        return result

    def _record(self, result: Any, card: dict[str, Any], rec: Any) -> None:
        from facelens.core.workspace import WorkspaceError

        details = {"model_path": self._model_path() or "reference", "simulated": bool(card.get("simulated", True)),
                   "n_valid_frames": result.n_valid_frames}
        try:
            if hasattr(result, "probability_bd"):
                details["drivers"] = [{"feature": d.feature, "contribution": d.contribution} for d in result.drivers]
                self.workspace.record_diagnosis(result.model_id or "bd_mdd", session_id=rec.id,
                                                patient_id=rec.patient_id, probability=result.probability_bd,
                                                interval=result.interval, details=details)
            else:
                self.workspace.record_diagnosis(result.model_id or "bd_mdd", session_id=rec.id,
                                                patient_id=rec.patient_id, refusal=result.reason, details=details)
        except WorkspaceError as exc:
            self.statusBar().showMessage(f"The result could not be recorded: {exc}", 10000)
