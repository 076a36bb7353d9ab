"""The embedded demo session as a workspace: build (first run) and register it, then return where it is.

The demo video and its analysis are made by ``facelens.core.demo.session.build_demo`` (reused when already
built). This module puts them in a workspace next to the demo files (``<demo dir>/workspace``) under
the pseudonym ``DEMO-001``, records the analysis run and imports the scripted segments once.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DEMO_PATIENT = "DEMO-001"


def load_demo(say: Callable[..., object] = print, out_dir: Path | None = None) -> tuple[Path, int]:
    """Make sure the demo is built, analysed and registered; returns (workspace folder, session id)."""
    from facelens.core.annotation.segments import read_segments_csv
    from facelens.core.demo.session import build_demo, default_demo_dir
    from facelens.core.workspace import RunStatus, SessionStatus, Workspace

    folder = Path(out_dir) if out_dir is not None else default_demo_dir()
    say("Preparing the demo session (first run: generating and analysing it, about a minute)…")
    demo = build_demo(folder)
    if demo.results is None or not Path(demo.results).is_file():
        raise RuntimeError("the demo analysis produced no results file")
    ws_dir = folder / "workspace"
    with Workspace.open(ws_dir, create=True) as ws:
        from facelens.core.workspace import sha256_file

        sha = sha256_file(demo.video)
        existing = [s for s in ws.list_sessions() if s.video_sha256 == sha]
        if existing:
            rec = existing[0]
        else:
            rec = ws.import_session(demo.video, DEMO_PATIENT, scenario="elicitation video",
                                    notes="synthetic demo session (not a patient)", sha256=sha)
        run = ws.latest_run(rec.id, complete_only=True)
        if run is None or Path(run.results_path) != Path(demo.results):
            from facelens.core.results import SessionResults

            with SessionResults.open(demo.results) as r:
                params, models = r.params, r.models
            new = ws.record_run(rec.id, demo.results, params, models)
            ws.finish_run(new.id, RunStatus.COMPLETE)
        ws.set_session_status(rec.id, SessionStatus.ANALYSED)
        if not ws.segments(rec.id) and Path(demo.segments_csv).is_file():
            ws.replace_segments(rec.id, read_segments_csv(demo.segments_csv))
        return ws_dir, int(rec.id)


def prepare_demo_in_worker(report: Callable[[float, str], None], cancelled: Callable[[], bool],
                           out_dir: Path | None = None) -> tuple[Path, int]:
    """``load_demo`` for a :func:`facelens.gui.jobs.run_job` worker.

    The build (minutes of video synthesis and analysis on the first run) runs as a child process
    ``facelens demo`` so that Cancel can stop it at any point; the demo's folder lock and atomic
    writes leave nothing half-written behind. Registering it in the workspace then takes a moment.
    """
    from facelens.core.demo.session import default_demo_dir
    from facelens.gui.jobs import run_process

    folder = Path(out_dir) if out_dir is not None else default_demo_dir()
    run_process(["demo", "--out", str(folder)], cancelled, report,
                "Generating and analysing the synthetic demo session (first run only, about a minute)…",
                expected_s=90.0)
    report(0.97, "Registering the demo session in its workspace…")
    return load_demo(lambda *a, **k: None, folder)
