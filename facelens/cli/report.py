"""``facelens report``: the printable patient report (PDF) of a workspace session or of files."""
from __future__ import annotations

import argparse
import datetime as _dt
from pathlib import Path
from typing import Any

from facelens.cli import UsageError
from facelens.cli._common import check_output_file, refuse_same_file


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write the PDF patient report of a session",
        description="PDF report (A4 or Letter) of one analysed session: data quality, valence/arousal over "
                    "time, per-label statistics next to published group values, dynamics indices, face "
                    "snapshots and the BD-vs-MDD model output. Either a workspace and --session, or a "
                    "results file (.h5) and --segments.")
    p.add_argument("source", help="workspace folder, or a results file (.h5)")
    p.add_argument("--session", type=int, help="session ID (with a workspace)")
    p.add_argument("--segments", help="segments CSV (start_s,end_s,label) of the results file")
    p.add_argument("--out", required=True, help="PDF file to write")
    p.add_argument("--page-size", choices=("A4", "Letter"), default="A4")
    p.add_argument("--no-identifying", action="store_true",
                   help="leave the patient ID, session date and clinician/annotator names out entirely")
    p.add_argument("--patient-id", default="", help="pseudonymous patient ID (files mode; a workspace knows it)")
    p.add_argument("--date", default="", help="session date YYYY-MM-DD (files mode)")
    p.add_argument("--scenario", default="", help="session scenario")
    p.add_argument("--clinician", default="", help="clinician (printed unless --no-identifying)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--model", help="BD-vs-MDD model folder (default: the shipped reference model)")
    g.add_argument("--no-model", action="store_true", help="leave the BD-vs-MDD prediction out")
    p.set_defaults(func=run_report)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"page_size": args.page_size, "include_identifying": not args.no_identifying,
            "patient_id": args.patient_id, "session_date": args.date, "scenario": args.scenario,
            "clinician": args.clinician, "use_model": not args.no_model, "model_path": args.model}


def _check_date(text: str) -> None:
    """``--date`` must be a real calendar date written YYYY-MM-DD (it is printed on the report)."""
    if not text:
        return
    try:
        ok = _dt.date.fromisoformat(text).isoformat() == text
    except ValueError:
        ok = False
    if not ok:
        raise UsageError(f"--date must be a date written YYYY-MM-DD, not {text!r}")


def run_report(args: argparse.Namespace) -> int:
    from facelens.core.report_content import ReportInputError
    from facelens.report import build_report_for_files, build_report_for_session

    src = Path(args.source)
    out = Path(args.out)
    if out.suffix.lower() != ".pdf":
        raise UsageError(f"--out must name a .pdf file, got {out.name}")
    _check_date(args.date)
    refuse_same_file(src, out)
    check_output_file(out, "--out")
    try:
        from facelens.report.layout import ReportError

        if src.is_dir():
            if args.session is None:
                raise UsageError("a workspace needs --session ID")
            if args.segments:
                raise UsageError("--segments is for a results file; a workspace holds the session's segments")
            from facelens.core.workspace import Workspace, WorkspaceError

            try:
                ws = Workspace.open(src, create=False)
            except WorkspaceError as exc:
                raise UsageError(str(exc)) from None
            with ws:
                path = build_report_for_session(ws, args.session, out, **_options(args))
        else:
            if args.session is not None:
                raise UsageError("--session needs a workspace folder, not a results file")
            if not args.segments:
                raise UsageError("a results file needs --segments SEGMENTS.csv")
            path = build_report_for_files(src, args.segments, out, **_options(args))
    except ReportInputError as exc:
        raise UsageError(str(exc)) from None
    except ReportError as exc:  # the output location turned out unwritable
        raise UsageError(str(exc)) from None
    print(f"report written: {path}")
    return 0
