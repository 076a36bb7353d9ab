"""Throughput of the analysis pipeline against decode-only speed, measured in the same run.

Usage: ``python benchmarks/throughput.py [VIDEO] [--fps 10] [--backend mediapipe] [--device auto]``
(default video: the Wolfgang Langer clip of the shared test media).

Prints: decode-only sampled frames/s (PyAV decode + RGB conversion, the baseline), full pipeline
sampled frames/s, their ratio, random-access ``frame_at`` latency, and the process's peak RSS.
Targets from the issue: >= 150 sampled frames/s for 640x360 on 2 cores, >= 0.5x decode-only speed,
peak memory < 1.5 GB whatever the video's length.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _default_video() -> Path:
    media = Path(os.environ.get("FACELENS_MEDIA", REPO.parent / "shared" / "media"))
    return media / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", default=str(_default_video()))
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--backend", default="mediapipe")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=2, help="decode-only passes (best is kept)")
    args = ap.parse_args()

    from facelens.core.pipeline import run_analysis
    from facelens.core.video import open_session

    video = Path(args.video)
    with open_session(video) as s:
        info = s.info
        best = float("inf")
        for _ in range(max(1, args.repeat)):
            t0 = time.perf_counter()
            n = sum(1 for _ in s.iter_sampled(args.fps))
            best = min(best, time.perf_counter() - t0)
        decode_fps = n / best
        rng = np.random.default_rng(0)
        lat = []
        for t in rng.uniform(0, max(info.duration_s - 0.2, 0.0), 20):
            t0 = time.perf_counter()
            s.frame_at(float(t))
            lat.append(time.perf_counter() - t0)
    rss_after_decode = _peak_rss_mb()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.h5"
        t_setup = time.perf_counter()
        first = None
        for p in run_analysis(video, out, fps=args.fps, backend=args.backend, device=args.device):
            if first is None:  # exclude model loading: time from the first finished batch
                first = (time.perf_counter(), p.done)
        t_end = time.perf_counter()
    assert first is not None
    total_wall = t_end - t_setup
    steady_fps = (n - first[1]) / max(t_end - first[0], 1e-9)
    overall_fps = n / total_wall

    print(f"video            {video.name}: {info.width}x{info.height}, {info.codec}, "
          f"{info.duration_s:.1f} s, {n} sampled frames at {args.fps:g} fps")
    print(f"cpu cores        {os.cpu_count()} (load average {os.getloadavg()[0]:.1f})")
    print(f"decode only      {decode_fps:8.1f} sampled frames/s  (baseline: PyAV decode + RGB, best of {args.repeat})")
    print(f"full pipeline    {steady_fps:8.1f} sampled frames/s  (after the first batch; "
          f"{overall_fps:.1f} including model loading, {total_wall:.1f} s wall)")
    print(f"ratio            {steady_fps / decode_fps:8.2f} x decode-only speed (target >= 0.5)")
    print(f"frame_at         median {1000 * np.median(lat):.1f} ms, max {1000 * np.max(lat):.1f} ms "
          f"(20 random seeks)")
    print(f"peak RSS         {_peak_rss_mb():8.0f} MB  (after decode-only: {rss_after_decode:.0f} MB; target < 1500)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
