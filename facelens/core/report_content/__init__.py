"""The content of the printable patient report: typed sections, built in ``core`` (Qt-free).

A report is a :class:`ReportContent` (report ID, hashes for the footer, an ordered list of
:class:`Section` objects holding numbers, tables, series and model cards); ``facelens.report``
renders it to PDF. Each section may be *unavailable* with a reason, which the PDF prints as
"Not available, because …".

Public API
----------
``ReportOptions``                           header facts, identifying fields on/off, model choice
``build_content(results, segments, options=None) -> ReportContent``   from an open ``SessionResults``
``content_for_files(results_path, segments_path, options=None)``     from files
``content_for_session(workspace, session_id, options=None)``         from a workspace session
``ReportInputError``                        one-line error for unusable inputs
Section types: ``HeaderSection``, ``DisclaimerSection``, ``QualitySection``, ``AffectSeriesSection``,
``VATableSection``, ``DynamicsSection``, ``SnapshotSection``, ``DiagnosisSection``, ``SignOffSection``, ``ModelsSection``.
"""
from facelens.core.report_content.build import DISCLAIMER, ReportOptions, build_content, new_report_id
from facelens.core.report_content.sections import (
    NOT_AVAILABLE,
    AffectSeriesSection,
    DiagnosisSection,
    DisclaimerSection,
    DriverRow,
    DynamicsSection,
    HeaderSection,
    IndexRow,
    ModelsSection,
    Moment,
    PublishedGroup,
    QualitySection,
    ReportContent,
    Section,
    SegmentIndexRow,
    SegmentQuality,
    SignOffSection,
    SnapshotSection,
    VARow,
    VATableSection,
)
from facelens.core.report_content.sources import (
    ReportInputError,
    content_for_files,
    content_for_session,
    session_results_path,
)

__all__ = [
    "DISCLAIMER", "NOT_AVAILABLE", "AffectSeriesSection", "DiagnosisSection", "DisclaimerSection", "DriverRow",
    "DynamicsSection", "HeaderSection", "IndexRow", "ModelsSection", "Moment", "PublishedGroup",
    "QualitySection", "ReportContent", "ReportInputError", "ReportOptions", "Section", "SegmentIndexRow",
    "SegmentQuality", "SignOffSection", "SnapshotSection", "VARow", "VATableSection", "build_content", "content_for_files",
    "content_for_session", "new_report_id", "session_results_path",
]
