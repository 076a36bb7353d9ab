"""Batch scaling: 1 vs 2 local workers, and local pool vs a Dask scheduler on 127.0.0.1.

Usage::

    .venv/bin/python benchmarks/batch_scaling.py [--sessions 4] [--fps 10] [--video videos/liveportrait_d3.mp4]

Two measurements, each against a baseline measured in the same run:

1. decode + face stages only (PyAV decoding at FPS, mediapipe tracking) of SESSIONS copies of the
   video, on a spawn pool of 1 and then 2 processes; imports and tracker set-up happen before
   the clock starts in each process, so this is the stages' own throughput (target: 2 workers
   >= 1.7x one worker on a 2-core machine).
2. the whole ``run_batch`` (all stages, models loaded once per worker) with 1 and 2 local
   workers and with 2 workers of a Dask LocalCluster on 127.0.0.1 (target: Dask within 10 % of
   the pool).

Figures are printed; nothing is asserted. On a machine shared with other jobs the ratios are
only as good as the load allows: the load average is printed beside them.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _media() -> Path:
    env = os.environ.get("FACELENS_MEDIA")
    for c in ([Path(env)] if env else []) + [REPO.parent / "shared" / "media"]:
        if (c / "videos").is_dir():
            return c
    raise SystemExit("test media not found: set FACELENS_MEDIA")


def _warm(_: int) -> float:
    """Import and build a tracker once in this worker, so the timed part excludes start-up."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from facelens.core.analysis.trackers import track_frames  # noqa: F401
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_media  # noqa: F401

    FaceTracker(static=False).close()
    return time.perf_counter()


def _decode_and_track(args: tuple[str, float]) -> tuple[int, float]:
    """Frames decoded and tracked, and the seconds it took (in the worker)."""
    from facelens.core.analysis.trackers import track_frames
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_media

    video, fps = args
    t0 = time.perf_counter()
    with open_media(video) as session:
        n = sum(1 for _ in track_frames(session.iter_sampled(fps, 0), lambda: FaceTracker(static=False)))
    return n, time.perf_counter() - t0


def stage_throughput(video: str, fps: float, sessions: int, workers: int) -> tuple[float, int]:
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        list(pool.map(_warm, range(workers)))  # start-up outside the clock
        t0 = time.perf_counter()
        results = list(pool.map(_decode_and_track, [(video, fps)] * sessions))
        wall = time.perf_counter() - t0
    frames = sum(n for n, _ in results)
    return frames / wall, frames


def batch_throughput(video: str, fps: float, sessions: int, workers: int, dask: bool) -> tuple[float, float]:
    from facelens.core.analysis.batch import BatchEntry, run_batch

    with tempfile.TemporaryDirectory(prefix="facelens-bench-") as tmp:
        entries = [BatchEntry(session_id=f"s{i:03d}", video=Path(video)) for i in range(sessions)]
        if dask:
            from distributed import LocalCluster

            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                              dashboard_address=None) as cluster:
                t0 = time.perf_counter()
                res = run_batch(entries, tmp, scheduler=cluster.scheduler_address, fps=fps, device="cpu")
                wall = time.perf_counter() - t0
        else:
            t0 = time.perf_counter()
            res = run_batch(entries, tmp, workers=workers, fps=fps, device="cpu")
            wall = time.perf_counter() - t0
        if res.failed:
            raise SystemExit(f"benchmark session failed: {res.failed[0].reason}")
        frames = sum(o.n_frames for o in res.outcomes)
    return frames / wall, wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--video", default="videos/liveportrait_d3.mp4", help="relative to the media folder")
    ap.add_argument("--skip-batch", action="store_true", help="only the decode + face stages")
    a = ap.parse_args()
    video = str(_media() / a.video)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    print(f"video {a.video}, {a.sessions} sessions at {a.fps:g} fps")

    r1, n = stage_throughput(video, a.fps, a.sessions, 1)
    r2, _ = stage_throughput(video, a.fps, a.sessions, 2)
    print(f"decode+face  1 worker  {r1:7.1f} frames/s  ({n} frames)   [baseline]")
    print(f"decode+face  2 workers {r2:7.1f} frames/s  ratio {r2 / r1:.2f}x  (target >= 1.70x)")
    if a.skip_batch:
        return
    b1, w1 = batch_throughput(video, a.fps, a.sessions, 1, dask=False)
    b2, w2 = batch_throughput(video, a.fps, a.sessions, 2, dask=False)
    d2, wd = batch_throughput(video, a.fps, a.sessions, 2, dask=True)
    print(f"run_batch    pool 1    {b1:7.1f} frames/s  wall {w1:6.1f} s   [baseline]")
    print(f"run_batch    pool 2    {b2:7.1f} frames/s  wall {w2:6.1f} s   ratio {b2 / b1:.2f}x vs pool 1")
    print(f"run_batch    dask 2    {d2:7.1f} frames/s  wall {wd:6.1f} s   ratio {d2 / b2:.2f}x vs pool 2 "
          "(target 0.90-1.10)")
    print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
