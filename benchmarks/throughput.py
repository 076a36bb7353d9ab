"""Throughput of the analysis pipeline against decode-only speed, measured in the same run.

Usage: ``python benchmarks/throughput.py [VIDEO] [--fps 10] [--backend mediapipe] [--device auto]
[--long-s 180] [--workers N]`` (default video: the Wolfgang Langer clip of the shared test media).

Part 1, the clip itself (shorter than one 30-s restart chunk, so it runs sequentially): decode-only
sampled frames/s (PyAV decode + RGB conversion, the baseline), full pipeline sampled frames/s,
their ratio, random-access ``frame_at`` latency, and the clip tracked by one FaceTracker vs two
trackers in two threads (whether mediapipe runs two threads at once: wall and CPU time).

Part 2, a long video (``--long-s`` seconds, 0 skips it): the clip's frames looped into a temporary
640x360 H.264 file (PyAV encode), then decode-only, the sequential pipeline (``workers=1``) and the
chunk-parallel pipeline (``workers=N``, default auto) in the same run, each pipeline in a fresh
process (spawn) so that neither inherits the other's memory or loaded models. For each: wall
time (model loading included), process CPU time (all threads), CPU ms per sampled frame,
frames/s after the first batch, and the peak resident memory of that process (sampled from
``/proc/self/status`` every 0.1 s).

Targets from the issue: >= 150 sampled frames/s for 640x360 on 2 cores, >= 0.5x decode-only speed,
peak memory < 1.5 GB whatever the video's length.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Self

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _default_video() -> Path:
    media = Path(os.environ.get("FACELENS_MEDIA", REPO.parent / "shared" / "media"))
    return media / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4"


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class _Phase:
    """Wall time, process CPU time and peak RSS (sampled every 0.1 s) of a block of work."""

    def __enter__(self) -> Self:
        self.peak, self._stop = _rss_mb(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w0, time.process_time() - self.c0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def make_long_video(src: Path, dst: Path, seconds: float) -> int:
    """Loop ``src``'s frames into ``dst`` (H.264, same size and rate) until ``seconds``; frames written."""
    import av

    with av.open(str(src)) as probe:
        s = probe.streams.video[0]
        rate, width, height = Fraction(s.average_rate or 25), s.width, s.height
    n_target, n = int(seconds * float(rate)), 0
    with av.open(str(dst), "w") as out:
        enc = out.add_stream("libx264", rate=rate)
        enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
        enc.options = {"preset": "veryfast", "crf": "23", "g": "250"}  # keyframe interval as x264's default
        while n < n_target:
            with av.open(str(src)) as inp:
                for frame in inp.decode(video=0):
                    if n >= n_target:
                        break
                    vf = frame.reformat(format="yuv420p")
                    vf.pts, vf.time_base = n, 1 / Fraction(rate)  # constant frame rate, no gap at the loops
                    for packet in enc.encode(vf):
                        out.mux(packet)
                    n += 1
        for packet in enc.encode():
            out.mux(packet)
    return n


def _decode_only(video: Path, fps: float) -> tuple[int, _Phase]:
    from facelens.core.media.video import open_session

    with open_session(video) as s, _Phase() as ph:
        n = sum(1 for _ in s.iter_sampled(fps))
    return n, ph


def _pipeline(video: Path, fps: float, **kw: Any) -> tuple[int, float, _Phase]:
    """Frames, frames/s after the first batch (model loading excluded), phase figures."""
    from facelens.core.analysis.pipeline import run_analysis

    with tempfile.TemporaryDirectory() as tmp, _Phase() as ph:
        first: tuple[float, int] | None = None
        last = None
        progress: Iterator[Any] = run_analysis(video, Path(tmp) / "bench.h5", fps=fps, **kw)
        for p in progress:
            if first is None:
                first = (time.perf_counter(), p.done)
            last = p
    assert first is not None and last is not None
    # NaN for a clip of one batch: nothing was measured after model loading
    steady = (last.done - first[1]) / (ph.w0 + ph.wall - first[0]) if last.done > first[1] else float("nan")
    return last.done, steady, ph


def _pipeline_figures(video: Path, fps: float, kw: dict[str, Any]) -> tuple[int, float, float, float, float]:
    """:func:`_pipeline` in a fresh process (clean peak memory, models loaded afresh): numbers only."""
    n, steady, ph = _pipeline(video, fps, **kw)
    return n, steady, ph.wall, ph.cpu, ph.peak


def _in_child(video: Path, fps: float, kw: dict[str, Any]) -> tuple[int, float, _Phase]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        n, steady, wall, cpu, peak = pool.submit(_pipeline_figures, video, fps, kw).result()
    ph = _Phase.__new__(_Phase)
    ph.wall, ph.cpu, ph.peak = wall, cpu, peak
    return n, steady, ph


def _tracking_threads(video: Path, fps: float) -> tuple[float, float, float, float]:
    """The clip's frames tracked by one FaceTracker, then split over two trackers in two threads:
    (wall, CPU) of each. Shows whether mediapipe lets two threads run at once, apart from the rest
    of the pipeline (decoding happens before the clock starts)."""
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_session

    with open_session(video) as s:
        frames = [f.rgb for f in s.iter_sampled(fps)]

    def track(part: list[np.ndarray]) -> None:
        with FaceTracker() as tr:
            for rgb in part:
                tr.process(rgb)

    track(frames[:3])  # mediapipe's first graph start-up is not part of the comparison
    with _Phase() as one:
        track(frames)
    half = len(frames) // 2
    threads = [threading.Thread(target=track, args=(p,)) for p in (frames[:half], frames[half:])]
    with _Phase() as two:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return one.wall, one.cpu, two.wall, two.cpu


def _row(label: str, n: int, fps: float, ph: _Phase, note: str = "") -> str:
    return (f"{label:<26} {fps:8.1f} frames/s  wall {ph.wall:6.1f} s  CPU {ph.cpu:6.1f} s "
            f"({1000 * ph.cpu / max(n, 1):5.1f} ms/frame)  peak RSS {ph.peak:6.0f} MB{note}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", default=str(_default_video()))
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--backend", default="mediapipe")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=2, help="decode-only passes of the clip (best is kept)")
    ap.add_argument("--long-s", type=float, default=180.0, help="length of the looped long video (0: skip)")
    ap.add_argument("--workers", type=int, default=None, help="chunk threads of the parallel run (default auto)")
    args = ap.parse_args()

    from facelens.core.analysis.pipeline import default_workers
    from facelens.core.media.video import open_session

    video = Path(args.video)
    kw = {"backend": args.backend, "device": args.device}
    with open_session(video) as s:
        info = s.info
        rng = np.random.default_rng(0)
        lat = []
        for t in rng.uniform(0, max(info.duration_s - 0.2, 0.0), 20):
            t0 = time.perf_counter()
            s.frame_at(float(t))
            lat.append(time.perf_counter() - t0)
    runs = [_decode_only(video, args.fps) for _ in range(max(1, args.repeat))]
    n, dec = min(runs, key=lambda r: r[1].wall)
    decode_fps = n / dec.wall
    _, steady, full = _pipeline(video, args.fps, **kw)

    print(f"video            {video.name}: {info.width}x{info.height}, {info.codec}, "
          f"{info.duration_s:.1f} s, {n} sampled frames at {args.fps:g} fps")
    print(f"cpu cores        {os.cpu_count()} (load average {os.getloadavg()[0]:.1f})")
    print(_row("decode only (best)", n, decode_fps, dec))
    print(_row("full pipeline", n, steady, full, f"  ({n / full.wall:.1f} frames/s incl. model loading)"))
    print(f"ratio            {steady / decode_fps:8.2f} x decode-only speed (target >= 0.5)")
    print(f"frame_at         median {1000 * np.median(lat):.1f} ms, max {1000 * np.max(lat):.1f} ms "
          f"(20 random seeks)")
    w1, c1, w2, c2 = _tracking_threads(video, args.fps)
    print(f"tracking only    1 thread {w1:.2f} s wall / {c1:.2f} s CPU; 2 threads {w2:.2f} s wall / {c2:.2f} s CPU"
          f" -> {w1 / w2:.2f}x (load average {os.getloadavg()[0]:.1f})")
    if args.long_s <= 0:
        return 0

    workers = args.workers or default_workers()
    with tempfile.TemporaryDirectory() as tmp:
        long_video = Path(tmp) / "long.mp4"
        t0 = time.perf_counter()
        native = make_long_video(video, long_video, args.long_s)
        print(f"\nlong video       {args.long_s:g} s of {video.name} looped, {native} native frames, "
              f"encoded in {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.1f}")
        n_long, dec_long = _decode_only(long_video, args.fps)
        decode_long = n_long / dec_long.wall
        print(_row("decode only", n_long, decode_long, dec_long))
        results: dict[str, tuple[int, float, _Phase]] = {}
        cases: list[tuple[str, Callable[[], tuple[int, float, _Phase]]]] = [
            ("pipeline, sequential", lambda: _in_child(long_video, args.fps, {"workers": 1, **kw})),
            (f"pipeline, {workers} chunk threads",
             lambda: _in_child(long_video, args.fps, {"workers": workers, **kw}))]
        for label, run in cases:
            results[label] = r = run()
            print(_row(label, r[0], r[1], r[2], f"  ratio {r[1] / decode_long:.2f} x decode-only"))
        (_, seq, seq_ph), (_, par, par_ph) = results.values()
        print(f"parallel/sequential {par / seq:5.2f} x frames/s, {par_ph.cpu / max(seq_ph.cpu, 1e-9):.2f} x CPU time"
              f"; load average now {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
