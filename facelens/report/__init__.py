"""The printable patient report (PDF): renders :mod:`facelens.core.report_content` with reportlab.

Public API
----------
``build_pdf(content, out_path, *, page_size="A4") -> Path``   (``"A4"`` or ``"Letter"``; atomic write)
``build_report_for_files(results_path, segments_path, out, **options) -> Path``
``build_report_for_session(workspace, session_id, out, **options) -> Path``  (records the audit entry)
``ReportError``  an output that cannot be written.

Importing this package is cheap: reportlab and matplotlib load when a report is built.
"""
from __future__ import annotations

from typing import Any

from facelens.report.api import AUDIT_ACTION, build_report_for_files, build_report_for_session

__all__ = ["AUDIT_ACTION", "ReportError", "build_pdf", "build_report_for_files", "build_report_for_session"]


def __getattr__(name: str) -> Any:
    if name in ("build_pdf", "ReportError"):
        from facelens.report import layout

        return getattr(layout, name)
    raise AttributeError(name)
