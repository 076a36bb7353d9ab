"""Face tracking cost per sampled frame: every-frame checks (the original) against the schedules.

Usage: ``python benchmarks/tracking_speed.py [VIDEO ...] [--fps 10] [--repeat 2]``
(default: the four test clips of the shared media that the tracking tests use).

Frames are decoded once up front, so only ``FaceTracker.process`` is timed. For each clip and each
configuration it prints CPU milliseconds per frame (``time.process_time``: all threads of this
process, mediapipe's included, so other users of the machine do not inflate it), wall
milliseconds per frame, the number of mirror checks / face counts / several-face-graph frames, and
how the LOW_CONFIDENCE and MULTIPLE_FACES flags and the landmarks compare with the original
behaviour measured in the same run (``occlusion_every=1, count_every=1``). The configurations
alternate within each repetition and the best repetition is kept, so a load spike hits both.

``--against DIR`` instead compares the default tracker of this tree with the one of another
checkout (e.g. ``git worktree add DIR OLD``), each in a process of its own, alternating: CPU ms
per frame for a tracker's whole life as the pipeline uses it per restart chunk (build, every
frame, close), and whether every observation is identical.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.append(str(REPO))  # after PYTHONPATH: --against runs other trees with theirs


def _open_media(path: Any) -> Any:
    """The tree's media opener (``open_media``; ``open_session`` in older checkouts)."""
    from facelens.core.media import video

    return (getattr(video, "open_media", None) or video.open_session)(path)


CLIPS = ["pyfeat_WolfgangLanger_Pexels.mp4", "pyfeat_single_face.mp4", "liveportrait_d3.mp4",
         "pyfeat_noface_face.mov"]
CONFIGS: dict[str, dict] = {"original": {"occlusion_every": 1, "count_every": 1},
                            "scheduled": {},  # the defaults
                            "no occlusion check": {"occlusion_check": False}}


def _media() -> Path:
    return Path(os.environ.get("FACELENS_MEDIA", REPO.parent / "shared" / "media"))


def _frames(path: Path, fps: float) -> list[np.ndarray]:
    with _open_media(path) as s:
        return [f.rgb for f in s.iter_sampled(fps)]


def _run(frames: list[np.ndarray], kwargs: dict) -> tuple[float, float, list, dict]:
    from facelens.core.face.tracking import FaceTracker

    with FaceTracker(**kwargs) as tr:
        tr.process(frames[0])  # graph start-up and first detection are not per-frame costs
        tr.reset()
        tr.stats = {k: 0 for k in tr.stats}
        c0, w0 = time.process_time(), time.perf_counter()
        obs = [tr.process(f) for f in frames]
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        return cpu / len(frames) * 1e3, wall / len(frames) * 1e3, obs, dict(tr.stats)


def _compare(obs: list, ref: list) -> str:
    from facelens.core.common.types import Quality

    low = np.array([o.quality == Quality.LOW_CONFIDENCE for o in obs])
    low_ref = np.array([o.quality == Quality.LOW_CONFIDENCE for o in ref])
    multi = np.array([o.n_faces > 1 for o in obs])
    multi_ref = np.array([o.n_faces > 1 for o in ref])
    both = [i for i, (a, b) in enumerate(zip(obs, ref))
            if a.landmarks is not None and b.landmarks is not None]
    dev = max((float(np.abs(obs[i].landmarks[:, :2] - ref[i].landmarks[:, :2]).max()) for i in both),
              default=float("nan"))
    return (f"LOW {int(low.sum())}/{int(low_ref.sum())} (missed {int((low_ref & ~low).sum())}, "
            f"extra {int((low & ~low_ref).sum())}), several faces {int(multi.sum())}/"
            f"{int(multi_ref.sum())}, max landmark difference {dev:.2f} px")


def _observations_digest(obs: list) -> str:
    import hashlib

    h = hashlib.sha256()
    for o in obs:
        h.update(f"{int(o.quality)} {o.n_faces} {o.confidence!r} {o.blur!r}".encode())
        if o.landmarks is not None:
            h.update(np.ascontiguousarray(o.landmarks).tobytes())
    return h.hexdigest()


def _against_child(video: str, fps: float) -> None:
    """One tracker life (build, every frame, close) on ``video``: CPU ms/frame and a digest."""
    from facelens.core.face.tracking import FaceTracker

    frames = _frames(Path(video), fps)
    FaceTracker().close()  # mediapipe's one-off start-up is not a per-chunk cost
    c0 = time.process_time()
    with FaceTracker() as tr:
        obs = [tr.process(f) for f in frames]
    cpu = (time.process_time() - c0) / len(frames) * 1e3
    print(f"RESULT {cpu} {len(frames)} {_observations_digest(obs)}")


def _against(videos: list[Path], fps: float, repeat: int, other: Path) -> int:
    """This tree's default FaceTracker against ``other``'s (a checkout, e.g. ``git worktree add
    DIR OLD``), each in its own process with ``PYTHONPATH`` = its tree, alternating: CPU ms per
    frame for a tracker's whole life as the pipeline uses it per restart chunk, and whether the
    observations are identical (digest of every quality, count, confidence, blur and landmark)."""
    import subprocess

    trees = {"other": other.resolve(), "this": REPO}
    for video in videos:
        best: dict[str, float] = {}
        digest: dict[str, str] = {}
        n = 0
        for _ in range(max(1, repeat)):
            for name, tree in trees.items():
                proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", str(video),
                                       "--fps", str(fps)], env={**os.environ, "PYTHONPATH": str(tree)},
                                      cwd=tree, capture_output=True, text=True, check=False)
                line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
                if proc.returncode or not line:
                    raise SystemExit(f"{tree}: {proc.stderr.strip()[-600:]}")
                cpu, n_s, digest[name] = line[-1].split()[1:]
                best[name], n = min(best.get(name, np.inf), float(cpu)), int(n_s)
        print(f"{video.name:<36} {n:4d} frames  CPU ms/frame (build + frames + close): "
              f"other {best['other']:.2f}  this {best['this']:.2f}  ({best['other'] / best['this']:.2f}x)"
              f"  observations identical: {digest['other'] == digest['this']}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*")
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--against", type=Path, default=None,
                    help="another checkout: compare its default tracker with this tree's")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _against_child(args.child, args.fps)
        return 0
    videos = [Path(v) for v in args.videos] or [_media() / "videos" / c for c in CLIPS]
    if args.against is not None:
        return _against(videos, args.fps, args.repeat, args.against)
    totals = {name: [0.0, 0.0, 0] for name in CONFIGS}
    for video in videos:
        frames = _frames(video, args.fps)
        h, w = frames[0].shape[:2]
        print(f"\n{video.name}: {len(frames)} sampled frames at {args.fps:g} fps, {w}x{h}")
        best: dict[str, tuple] = {}
        for _ in range(max(1, args.repeat)):
            for name, kwargs in CONFIGS.items():
                r = _run(frames, kwargs)
                if name not in best or r[0] < best[name][0]:
                    best[name] = r
        ref = best["original"]
        for name, (cpu, wall, obs, stats) in best.items():
            totals[name][0] += cpu * len(frames)
            totals[name][1] += wall * len(frames)
            totals[name][2] += len(frames)
            print(f"  {name:<19} cpu {cpu:6.2f} ms/frame ({ref[0] / cpu:4.2f}x less than original)"
                  f"  wall {wall:6.2f} ms/frame  mirror checks {stats['mirror_checks']}"
                  f"  face counts {stats['face_counts']}  several-face graph {stats['multi_frames']}")
            if name != "original":
                print(f"  {'':<19} {_compare(obs, ref[2])}")
    print("\nall clips (frame-weighted):")
    base = totals["original"][0] / totals["original"][2]
    for name, (cpu, wall, n) in totals.items():
        print(f"  {name:<19} cpu {cpu / n:6.2f} ms/frame = {1e3 * n / cpu:6.1f} frames/s of CPU"
              f"  ({base / (cpu / n):4.2f}x)  wall {wall / n:6.2f} ms/frame")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (2 cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
