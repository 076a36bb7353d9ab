"""Report content straight from files or from a workspace session (Qt-free)."""
from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facelens.core.report_content.build import ReportOptions, build_content
from facelens.core.report_content.provenance import patient_inputs, session_results_path
from facelens.core.report_content.sections import ReportContent

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.workspace import Workspace


class ReportInputError(Exception):
    """Inputs a report cannot be made from (one-line message)."""


def content_for_files(results_path: str | os.PathLike[str], segments_path: str | os.PathLike[str] | None,
                      options: ReportOptions | None = None) -> ReportContent:
    """Content of the report of a results file and its segments CSV (``None``: no segments).

    Raises
    ------
    ReportInputError
        Results or segments file missing, corrupt or incomplete.
    """
    from facelens.core.annotation.segments import SegmentError, read_segments_csv
    from facelens.core.results import ResultsError, SessionResults

    try:
        segs = read_segments_csv(Path(segments_path)) if segments_path is not None else []
        res = SessionResults.open(results_path)
    except (ResultsError, SegmentError) as exc:
        raise ReportInputError(str(exc)) from None
    source: dict[str, Any] = {"results": str(Path(results_path).name),
                              "segments": str(Path(segments_path).name) if segments_path else ""}
    with res:
        _check_inputs(res, segs, options)
        return build_content(res, segs, options, source=source)


def _check_inputs(res: Any, segs: list, options: ReportOptions | None) -> None:
    """Refuse what would otherwise print as a quiet "not available": segments beyond the
    recording, and a model the user named explicitly that cannot be loaded."""
    from facelens.core.annotation.segments import SegmentError
    from facelens.core.diagnosis.model import DiagnosisModelError, load_model
    from facelens.core.dynamics import check_segments_in_results

    try:
        check_segments_in_results(res, segs)
    except SegmentError as exc:
        raise ReportInputError(str(exc)) from None
    opt = options or ReportOptions()
    if opt.use_model and opt.model_path is not None:
        try:
            load_model(opt.model_path)
        except DiagnosisModelError as exc:
            raise ReportInputError(f"the model {opt.model_path} cannot be used: {exc}") from None


def content_for_session(ws: Workspace, session_id: int,
                        options: ReportOptions | None = None) -> ReportContent:
    """Content of the report of a workspace session: its newest complete analysis and its segments.

    Header facts not given in ``options`` (patient pseudonym, date, scenario) come from the workspace.
    """
    from facelens.core.results import ResultsError, SessionResults
    from facelens.core.workspace import WorkspaceError

    try:
        s = ws.get_session(int(session_id))
        segs = ws.segments(s.id)
    except WorkspaceError as exc:
        raise ReportInputError(str(exc)) from None
    path = session_results_path(ws, s.id)
    try:
        res = SessionResults.open(path)
    except ResultsError as exc:
        raise ReportInputError(f"session {s.id} has no finished analysis ({exc})") from None
    opt = options or ReportOptions()
    opt = replace(opt, patient_id=opt.patient_id or s.patient_code, session_date=opt.session_date or s.date,
                  scenario=opt.scenario or s.scenario)
    inputs = patient_inputs(ws, s.patient_id, opt.model_path)
    if opt.use_model and opt.expected_inputs and opt.expected_inputs != inputs.key.digest:
        raise ReportInputError("the BD-vs-MDD result on screen is out of date (the patient's sessions or "
                               "segments changed since it was computed): compute it again or leave the "
                               "model output out")
    source = {"workspace_session": s.id, "patient_id": s.patient_id, "results": path.name,
              "inputs_digest": inputs.key.digest}
    with res, ExitStack() as stack:
        _check_inputs(res, segs, opt)
        others = [(res, segs) if p == path else (stack.enter_context(_open(p)), sg) for p, sg in inputs.pairs]
        return build_content(res, segs, opt, source=source, patient_sessions=others or [(res, segs)],
                             session_ids=inputs.session_ids, inputs_digest=inputs.key.digest)


def _open(path: Path) -> Any:
    from facelens.core.results import ResultsError, SessionResults

    try:
        return SessionResults.open(path)
    except ResultsError as exc:
        raise ReportInputError(f"{path.name} cannot be read ({exc})") from None
