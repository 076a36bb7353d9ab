"""Two costs on the GUI thread: the inputs fingerprint per segment edit, and opening a long session.

1. Inputs fingerprint. Builds a workspace with one patient, S analysed sessions (small placeholder
results files: the fingerprint reads their size and mtime, not their content) and K segments each, then adds a segment
to one session 30 times and times, after each edit, the full read
(``core.report_content.provenance.patient_inputs``, the baseline: what every edit cost before) and the
incremental one (``viewmodel.inputs_cache.InputsCache.segments_edited``, what the GUI does now).
Prints the medians and checks the two keys are equal.

2. Opening a session. Writes a synthetic 30-minute results file (``report_speed.make_session``) into
a workspace, opens it in a main window and records the longest gap between the ticks of a
5-ms timer while ``open_session`` runs: with the file read in a worker (what the GUI does) and, as the
baseline in the same run, with the same read done in place on the GUI thread (how it was). Five
alternated runs of each after one warm-up (first renders; the file then in the page cache). What
remains in the worker case is drawing the curves and the first frame, not I/O.

Run: ``python benchmarks/gui_hot_path.py`` (on a display; headless: under ``xvfb-run -a``).
"""
from __future__ import annotations

import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # report_speed.make_session

from facelens.core.annotation.segments import Segment
from facelens.core.report_content.provenance import patient_inputs
from facelens.core.workspace import RunStatus, Workspace
from facelens.viewmodel.inputs_cache import InputsCache

EDITS = 30


def run(n_sessions: int, n_segments: int, folder: Path) -> tuple[float, float]:
    video = folder / "v.mp4"
    video.write_bytes(b"placeholder")
    ws = Workspace.open(folder / "ws", create=True)
    ids = []
    for k in range(n_sessions):
        rec = ws.import_session(video, "P001", sha256="0" * 64)
        out = folder / f"r{k}.h5"
        out.write_bytes(b"x" * (k + 1))
        ws.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
        ws.replace_segments(rec.id, [Segment(2.0 * i, 2.0 * i + 1.5, "happy" if i % 2 else "sad", id=f"s{k}-{i}")
                                     for i in range(n_segments)])
        ids.append(int(rec.id))
    pid = int(ws.get_session(ids[0]).patient_id)
    cache = InputsCache()
    cache.full(ws, pid, "")
    full, part = [], []
    for r in range(EDITS):
        ws.add_segment(ids[0], Segment(1000.0 + 2 * r, 1001.0 + 2 * r, "happy", id=f"new{r}"))
        t = time.perf_counter()
        truth = patient_inputs(ws, pid, "").key
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        key = cache.segments_edited(ws, pid, "", ids[0]).key
        part.append(time.perf_counter() - t)
        assert key == truth, "the incremental key differs from a full read"
    ws.close()
    return statistics.median(full) * 1e3, statistics.median(part) * 1e3


def longest_stall(window: Any, session_id: int) -> float:
    """Longest gap (ms) between 5-ms timer ticks while ``open_session`` runs."""
    from PySide6.QtCore import QTimer

    ticks = [time.perf_counter()]
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(5)
    window.close_session()
    assert window.open_session(session_id)
    ticks.append(time.perf_counter())
    timer.stop()
    return max(b - a for a, b in itertools.pairwise(ticks)) * 1e3


def open_stalls(folder: Path, minutes: float = 30.0, repeats: int = 5) -> tuple[list[float], list[float]]:
    import shutil

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication
    from report_speed import make_session

    from facelens.gui.controllers import session as session_ctl
    from facelens.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    h5, _ = make_session(folder, minutes)
    video = folder / "v.mp4"
    video.write_bytes(b"placeholder")
    win = MainWindow(QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat))
    win.show()
    app.processEvents()
    assert win.open_workspace(folder / "ws")
    rec = win.workspace.import_session(video, "P001", sha256="0" * 64)
    out = Path(win.workspace.results_path_for(rec.id))
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(h5, out)
    win.workspace.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
    real = session_ctl.run_job

    def in_place(parent: Any, title: str, fn: Any, **kw: Any) -> Any:  # the read on the GUI thread
        return fn(lambda *a: None, lambda: False)

    longest_stall(win, rec.id)  # warm-up: first renders, the file in the page cache
    worker, here = [], []
    for _ in range(repeats):  # alternated, so that a busy moment of the machine hits both
        worker.append(longest_stall(win, rec.id))
        session_ctl.run_job = in_place
        try:
            here.append(longest_stall(win, rec.id))
        finally:
            session_ctl.run_job = real
    win.force_quit = True
    win.close()
    app.processEvents()
    return worker, here


def main() -> None:
    for s, k in ((3, 20), (20, 60)):
        with tempfile.TemporaryDirectory() as d:
            f, p = run(s, k, Path(d))
        print(f"{s:>2} sessions x {k:>2} segments: full read {f:6.2f} ms, incremental {p:5.2f} ms "
              f"per edit (median of {EDITS}; {f / p:.1f}x)")
    with tempfile.TemporaryDirectory() as d:
        worker, in_place = open_stalls(Path(d))
    med = statistics.median
    print(f"open a 30-min session, longest GUI-thread stall (median of {len(worker)}): read in a worker "
          f"{med(worker):.0f} ms, read in place (before) {med(in_place):.0f} ms "
          f"(each: {', '.join(f'{a:.0f}/{b:.0f}' for a, b in zip(worker, in_place))})")


if __name__ == "__main__":
    main()
