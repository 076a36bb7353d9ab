"""The BD-vs-MDD controller: computes the open patient's prediction and keeps it tied to its inputs.

It subscribes to the model: when the open patient or its sessions change (``patient_id`` /
``data_version``) it reads the inputs' key again (:func:`facelens.core.report_content.provenance.patient_inputs`);
when only the open session's segments change (``segments_version``, every segment edit) it re-reads
that session's segments alone (:class:`facelens.viewmodel.inputs_cache.InputsCache`). The key goes to
:meth:`AppModel.set_inputs`, which drops another patient's result and marks a result of the same
patient out of date. The panel follows the model: the result is drawn when it changes, the
out-of-date banner when only the freshness changes, so a number on screen always says whether it
matches the data next to it, and an edit never rebuilds the drivers table.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from facelens.core.report_content.provenance import PatientInputs
from facelens.gui.dialogs import show_error
from facelens.gui.jobs import JobCancelled, JobFailed, run_job
from facelens.viewmodel.app_model import AppModel, Freshness, StampedResult
from facelens.viewmodel.inputs_cache import InputsCache
from facelens.viewmodel.settings import AppSettings

REFERENCE_NAME = "shipped reference model (simulated data)"
NOT_ANALYSED = "Neutral baseline: shown once the session is analysed."


class BaselineShown:
    """The open session's neutral baseline on the panels, always the one of the data on screen.

    It is recomputed (``core.dynamics.baseline.baseline_summary``, in memory: the results object the
    review view already holds; the segments as stored) when the segments change, when the session
    or its analyses change, and when the review view shows another data object (a session opened or
    re-analysed: ``frame_shown`` fires once after each, then per frame, when only a key is compared).
    A session whose results are not on screen yet shows no baseline, never the previous one.
    """

    def __init__(self, model: AppModel, review: Any, workspace: Callable[[], Any], panels: list[Any]) -> None:
        self.model, self.review, self._ws, self.panels = model, review, workspace, panels
        self._key: tuple[Any, ...] | None = None
        self.summary: Any = None  # the BaselineSummary shown (None when none is)
        for ev in (model.events.session_id, model.events.segments_version, model.events.data_version):
            ev.connect(self.refresh)
        review.state.session_changed.connect(self.refresh)
        review.frame_shown.connect(self.refresh)

    def refresh(self, *_: Any) -> None:
        sid, data = self.model.session_id, self.review.data
        results = getattr(data, "results", None)
        if sid is None or self.review.state.session_id != sid or self._ws() is None:
            results = None  # the view still shows another session (or none): nothing of it is shown
        key = (sid, results, self.model.segments_version, self.model.data_version)
        if key == self._key:  # the results object compares by identity
            return
        self._key, self.summary, error = key, None, ""
        if results is not None:
            from facelens.core.dynamics.baseline import baseline_summary

            try:
                self.summary = baseline_summary(results, self._ws().segments(int(sid)))
            except Exception as exc:  # noqa: BLE001 - said on the panel, the review goes on
                error = f"Neutral baseline: could not be computed ({exc})."
        self.show(error)

    def show(self, error: str = "") -> None:
        from facelens.core.dynamics.baseline import STREAMING_NOTE, STREAMING_NOTE_SHORT

        s = self.summary
        diagnosis, segments = self.panels
        message = error or ("" if self.model.session_id is None else NOT_ANALYSED)
        note, short = (STREAMING_NOTE, STREAMING_NOTE_SHORT) if s is None else (s.note, s.note_short)
        diagnosis.set_baseline(s, message, short, note)
        segments.set_baseline(s, "" if s is None else s.text() + "\n" + note)


class DiagnosisController(QObject):
    """Compute, show and record the prediction of the open patient.

    Parameters
    ----------
    host : QWidget
        Parent of dialogs and progress windows.
    model, prefs
        The application model and settings.
    panel : DiagnosisPanel
        The view.
    workspace : callable
        Returns the open ``Workspace`` (or None).
    review, segments_panel : ReviewController, SegmentPanel, optional
        With them, the open session's neutral baseline is kept on both panels (:class:`BaselineShown`).
    """

    def __init__(self, host: QWidget, model: AppModel, prefs: AppSettings, panel: Any,
                 workspace: Callable[[], Any], review: Any = None, segments_panel: Any = None) -> None:
        super().__init__(host)
        self.host, self.model, self.prefs, self.panel, self._ws = host, model, prefs, panel, workspace
        self.baseline = (BaselineShown(model, review, workspace, [panel, segments_panel])
                         if review is not None else None)
        self.cache = InputsCache()
        self._shown: tuple[StampedResult | None, Freshness] = (None, Freshness("none"))  # what the panel shows
        panel.compute_requested.connect(self.compute)
        panel.cohort_requested.connect(self.open_cohort)
        model.events.patient_id.connect(self.refresh_inputs)
        model.events.data_version.connect(self.refresh_inputs)
        model.events.segments_version.connect(self._segments_edited)
        model.events.inputs.connect(self._show)
        model.events.diagnosis.connect(self._show)
        self.show_model_name()

    # -- inputs and view -----------------------------------------------------------------------
    def current_inputs(self) -> PatientInputs | None:
        ws, pid = self._ws(), self.model.patient_id
        if ws is None or pid is None:
            return None
        return self.cache.full(ws, pid, self.prefs.model_path)

    def refresh_inputs(self, *_: Any) -> None:
        """Fingerprint the open patient's data now (another patient, model or set of analyses)."""
        inputs = self.current_inputs()
        self.model.set_inputs(inputs.key if inputs is not None else None)

    def _segments_edited(self, *_: Any) -> None:
        """The open session's segments changed: its part of the key only is read again."""
        ws, pid, sid = self._ws(), self.model.patient_id, self.model.session_id
        if ws is None or pid is None or sid is None:
            return
        self.model.set_inputs(self.cache.segments_edited(ws, pid, self.prefs.model_path, sid).key)

    def _show(self, *_: Any) -> None:
        d, fresh = self.model.diagnosis, self.model.diagnosis_freshness
        shown, self._shown = self._shown, (d, fresh)
        if shown[0] is d:  # the same result: at most its out-of-date banner changes
            if d is not None and shown[1] != fresh:
                self.panel.set_stale("" if fresh.current else fresh.reason)
            return
        if d is None:
            self.panel.clear()
            return
        ids = ", ".join(f"#{s}" for s, _ in d.key.sessions)
        self.panel.show_result(d.result, d.card, subject=f"Patient {d.key.patient_code} · sessions {ids or '—'}",
                               warnings=d.warnings)
        self.panel.set_stale("" if fresh.current else fresh.reason)

    def show_model_name(self) -> None:
        path = self.prefs.model_path
        self.panel.set_model_name(Path(path).name if path else REFERENCE_NAME)

    def open_cohort(self) -> None:
        from facelens.gui.cohort_dialog import CohortDialog

        CohortDialog(self.host, self.prefs.store).exec()
        self.show_model_name()
        self.refresh_inputs()  # another model: the shown result is out of date

    # -- compute ---------------------------------------------------------------------------------
    def compute(self) -> Any:
        """Predict for the open patient; returns the ``Prediction``/``Refusal`` (or None)."""
        inputs = self.current_inputs()
        if inputs is None or self.model.session_id is None:
            show_error(self.host, "Diagnosis support", "Open an analysed session first.")
            return None
        pairs, model_path = list(inputs.pairs), self.prefs.model_path or None

        def job(report: Any, cancelled: Any) -> tuple[Any, dict[str, Any], list[str]]:
            from contextlib import ExitStack

            from facelens.core.diagnosis.model import load_model, predict_subject
            from facelens.core.report_content.quality_warnings import label_warnings
            from facelens.core.results import SessionResults

            report(float("nan"), f"Computing features of {len(pairs)} session(s)…")
            model = load_model(model_path)
            with ExitStack() as stack:
                sessions = [(stack.enter_context(SessionResults.open(p)), segs) for p, segs in pairs]
                from facelens.core.annotation import exclusions

                warn = label_warnings([(r.time_s, r.valid_va.astype(bool) & ~exclusions.excluded_mask(r.time_s, segs),
                                        exclusions.labelled(segs)) for r, segs in sessions])
                return predict_subject(model, sessions), model.card, warn

        try:
            result, card, warnings = run_job(self.host, "Diagnosis support", job, label="Running the BD-vs-MDD model…",
                                   cancellable=False)
        except (JobCancelled, JobFailed) as exc:
            show_error(self.host, "Diagnosis support", f"The model could not be run: {exc}")
            return None
        self.model.set_inputs(inputs.key)
        self.model.diagnosis = StampedResult(result, card, inputs.key, tuple(warnings))
        self._record(result, card, inputs)
        return result

    def _record(self, result: Any, card: dict[str, Any], inputs: PatientInputs) -> None:
        from facelens.core.workspace import WorkspaceError

        ws = self._ws()
        details: dict[str, Any] = {"model_path": self.prefs.model_path or "reference",
                                   "simulated": bool(card.get("simulated", True)),
                                   "n_valid_frames": result.n_valid_frames, "sessions": inputs.session_ids,
                                   "inputs_digest": inputs.key.digest}
        kw: dict[str, Any] = {"session_id": self.model.session_id, "patient_id": inputs.key.patient_id}
        try:
            if hasattr(result, "probability_bd"):
                details["drivers"] = [{"feature": d.feature, "contribution": d.contribution} for d in result.drivers]
                ws.record_diagnosis(result.model_id or "bd_mdd", probability=result.probability_bd,
                                    interval=result.interval, details=details, **kw)
            else:
                ws.record_diagnosis(result.model_id or "bd_mdd", refusal=result.reason, details=details, **kw)
        except WorkspaceError as exc:
            self.model.message = f"The result could not be recorded: {exc}"
