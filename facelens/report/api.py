"""One-call report builders for the CLI and the GUI's "Export report…" action."""
from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facelens.core import report_content as rc

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.workspace import Workspace

AUDIT_ACTION = "report generated"


def _options(options: dict[str, Any]) -> tuple[rc.ReportOptions, str]:
    page_size = str(options.pop("page_size", "A4"))
    known = {f.name for f in fields(rc.ReportOptions)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown report option(s): {', '.join(unknown)}")
    return rc.ReportOptions(**options), page_size


def audit_details(content: rc.ReportContent, out: Path, page_size: str) -> dict[str, Any]:
    """What the audit log keeps about a generated report: which analysis, which models, where."""
    return {"report_id": content.report_id, "file": out.name, "page_size": page_size,
            "video_sha256": content.video_sha256, "source": content.source,
            "models": [{"id": mid, "sha256": sha} for mid, sha in content.model_hashes],
            "identifying_fields": not bool(getattr(content.section(rc.HeaderSection), "identifying_omitted", False))}


def build_report_for_files(results_path: str | os.PathLike[str], segments_path: str | os.PathLike[str] | None,
                           out: str | os.PathLike[str], **options: Any) -> Path:
    """PDF report of a results file and its segments CSV.

    ``options``: ``page_size`` ("A4" or "Letter") and any field of
    :class:`facelens.core.report_content.ReportOptions` (``patient_id``, ``session_date``,
    ``scenario``, ``clinician``, ``include_identifying``, ``use_model``, ``model_path``, ...).
    Raises ``ReportInputError`` for unusable inputs and ``ReportError`` for an unwritable output.
    """
    from facelens.report.layout import build_pdf

    opt, page_size = _options(dict(options))
    content = rc.content_for_files(results_path, segments_path, opt)
    return build_pdf(content, out, page_size=page_size)


def build_report_for_session(workspace: Workspace, session_id: int, out: str | os.PathLike[str],
                             **options: Any) -> Path:
    """PDF report of a workspace session; records "report generated" in the workspace's audit log.

    The audit entry holds the report ID, the output file name, the analysis (results file, session),
    the SHA-256 of the video and of every model used, and whether identifying fields were printed;
    the user and time are added by the workspace.
    """
    from facelens.report.layout import build_pdf

    opt, page_size = _options(dict(options))
    content = rc.content_for_session(workspace, session_id, opt)
    path = build_pdf(content, out, page_size=page_size)
    details = audit_details(content, path, page_size)
    details["session"] = int(session_id)
    workspace.audit(AUDIT_ACTION, details)
    return path
