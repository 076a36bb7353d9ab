"""Report generation time for a 30-minute session (target: under 3 s on the development machine).

Writes a synthetic 30-minute results file (10 fps = 18,000 frames, SIMULATED valence/arousal from
``core.simulate`` repeated, the neutral template as the face mesh of every frame, 60 segments),
then times ``build_report_for_files`` on it and, as the baseline measured in the same run, on a
1-minute file built the same way. Prints the stage breakdown (content, PDF with charts and
snapshots) and the ratio 30-min / 1-min. Run: ``python benchmarks/report_speed.py``.
Timings include nothing of interpreter start-up; imports are warmed up first.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facelens.core.face.geometry import EXPRESSION_NAMES, template
from facelens.core.results import ResultsWriter
from facelens.core.annotation.segments import Segment, write_segments_csv
from facelens.core.diagnosis.simulate import simulate_session
from facelens.core.common.types import Quality

FPS = 10.0


def make_session(folder: Path, minutes: float, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    n = int(minutes * 60 * FPS)
    parts_v, parts_a, parts_q, segs = [], [], [], []
    t0 = 0.0
    while sum(len(p) for p in parts_v) < n:
        s = simulate_session(rng, "BD" if rng.random() < 0.5 else "MDD")
        parts_v.append(s["valence"])
        parts_a.append(s["arousal"])
        parts_q.append(s["quality"])
        segs += [Segment(g.start_s + t0, g.end_s + t0, g.label, g.scenario, "benchmark", "bench")
                 for g in s["segments"]]
        t0 += len(s["valence"]) / FPS
    v, a, q = (np.concatenate(p)[:n] for p in (parts_v, parts_a, parts_q))
    segs = [g for g in segs if g.end_s <= n / FPS]
    t = np.arange(n) / FPS
    h5 = folder / f"bench_{minutes:g}min.h5"
    meta = {"video_path": "simulated:benchmark", "video_sha256": "0" * 64, "duration_s": n / FPS,
            "native_fps": 30.0, "width": 640, "height": 480, "rotation_deg": 0,
            "params": {"fps": FPS, "simulated": True}, "models": [], "simulated": True}
    tmpl = template().astype(np.float32)
    with ResultsWriter(h5, meta, expression_names=list(EXPRESSION_NAMES)) as w:
        for a0 in range(0, n, 1000):
            b0 = min(n, a0 + 1000)
            k = b0 - a0
            ok = q[a0:b0] == Quality.OK
            w.append({"time_s": t[a0:b0], "frame_index": np.round(t[a0:b0] * 30).astype(np.int64),
                      "quality": q[a0:b0], "n_faces": ok.astype(np.uint8), "confidence": np.full(k, 0.95),
                      "valence": v[a0:b0], "arousal": a[a0:b0],
                      "landmarks": np.repeat(tmpl[None], k, axis=0),
                      "rotation": np.repeat(np.eye(3, dtype=np.float32)[None], k, axis=0),
                      "translation": np.zeros((k, 3), np.float32), "scale": np.ones(k, np.float32)})
        w.finish()
    return h5, write_segments_csv(segs, folder / f"bench_{minutes:g}min.csv")


def time_report(h5: Path, csv: Path, out: Path, repeats: int = 3) -> dict[str, float]:
    from facelens.core.report_content import content_for_files
    from facelens.report import build_pdf

    best = {"content": np.inf, "pdf": np.inf, "total": np.inf, "cpu": np.inf}
    for _ in range(repeats):
        c0 = time.process_time()
        t0 = time.perf_counter()
        content = content_for_files(h5, csv)
        t1 = time.perf_counter()
        build_pdf(content, out)
        t2 = time.perf_counter()
        cpu = time.process_time() - c0
        for k, v in (("content", t1 - t0), ("pdf", t2 - t1), ("total", t2 - t0), ("cpu", cpu)):
            best[k] = min(best[k], v)
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        short = make_session(folder, 1.0)
        long = make_session(folder, 30.0, seed=1)
        time_report(*short, folder / "warm.pdf", repeats=1)  # import matplotlib/reportlab/pdfrw once
        base = time_report(*short, folder / "short.pdf")
        big = time_report(*long, folder / "long.pdf")
        size = (folder / "long.pdf").stat().st_size
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (wall times suffer on a shared machine)")
    print("report generation, best of 3 (s)      content    pdf   total  (process CPU)")
    for name, r in (("1-minute session (baseline)      ", base), ("30-minute session (18,000 frames)", big)):
        print(f"  {name}   {r['content']:7.3f} {r['pdf']:6.3f} {r['total']:7.3f}  ({r['cpu']:.3f})")
    print(f"  ratio 30-min / 1-min: {big['total'] / base['total']:.2f}x; target < 3 s: "
          f"{'met' if big['total'] < 3.0 else 'NOT met'}; PDF size {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
