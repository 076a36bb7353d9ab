"""Cost of the patient's inputs fingerprint per segment edit on the GUI thread.

Builds a workspace with one patient, S analysed sessions (small placeholder results files: the
fingerprint reads their size and mtime, not their content) and K segments each, then adds a segment
to one session 30 times and times, after each edit, the full read
(``core.report_content.provenance.patient_inputs``, the baseline: what every edit cost before) and the
incremental one (``viewmodel.inputs_cache.InputsCache.segments_edited``, what the GUI does now).
Prints the medians and checks the two keys are equal. Run: ``python benchmarks/gui_inputs_key.py``.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def main() -> None:
    for s, k in ((3, 20), (20, 60)):
        with tempfile.TemporaryDirectory() as d:
            f, p = run(s, k, Path(d))
        print(f"{s:>2} sessions x {k:>2} segments: full read {f:6.2f} ms, incremental {p:5.2f} ms "
              f"per edit (median of {EDITS}; {f / p:.1f}x)")


if __name__ == "__main__":
    main()
