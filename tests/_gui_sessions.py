"""Putting an analysed session into a workspace for the GUI tests (no analysis run: a results file is copied)."""
from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any


def add_session(ws: Any, video: Path, patient: str, results: Path, segments: Iterable[Any] = (),
                scenario: str | None = None) -> tuple[int, Path]:
    """Import ``video`` for ``patient`` with ``results`` as its complete run and ``segments`` (ids made
    unique per patient) -> (session id, the workspace's results path)."""
    from facelens.core.workspace import RunStatus, SessionStatus

    rec = ws.import_session(video, patient) if scenario is None else ws.import_session(video, patient, scenario=scenario)
    out = Path(ws.results_path_for(rec.id))
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(results, out)
    ws.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
    ws.set_session_status(rec.id, SessionStatus.ANALYSED)
    segments = list(segments)
    if segments:
        ws.replace_segments(rec.id, [replace(s, id=f"{patient}-{s.id}") for s in segments])
    return int(rec.id), out
