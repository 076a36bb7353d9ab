"""Throughput of the analysis against decode-only speed: this tree and a baseline checkout, one run.

Usage::

    python benchmarks/throughput.py [--long VIDEO | --loops 30] [--baseline DIR] [--rounds 2]
                                    [--fps 10] [--workers N] [--stage-s 60]

The long recording is ``--long`` or, by default, the Wolfgang Langer clip of the shared media
looped ``--loops`` times by stream copy (no re-encoding; 30 loops = 591 s, as ``ffmpeg
-stream_loop 29 -c copy``). ``--baseline DIR`` is another checkout, e.g. the previous commit
(``git worktree add /tmp/base HEAD~1``); without it only this tree is measured.

Every measurement runs in a fresh process (``PYTHONPATH`` = the tree measured), so none inherits
another's memory or loaded models:

* decode only: the sampled frames decoded and converted to RGB, nothing else (the baseline speed),
  and ``frame_at`` latency at 20 random times;
* the full pipeline (``run_analysis``, default settings unless ``--workers``), baseline and this
  tree alternating for ``--rounds`` rounds: sampled frames/s (wall, model loading included),
  process CPU time per sampled frame (all threads), their ratio to decode-only, the peak resident
  memory (``ru_maxrss``) and the load average (the machine may be shared: CPU ms per frame is the
  figure other jobs disturb least);
* the stage breakdown: the first ``--stage-s`` seconds run stage after stage in one thread (a
  block of 32 frames decoded, tracked, measured, ...; a fresh tracker every 300 frames as the
  pipeline restarts it), CPU ms per sampled frame of each stage. "detect/mesh" is the tracker
  without its occlusion test and blur measure (it includes the face counts); "geometry" is head
  pose, expression measures and the results columns; the sum against the pipeline's CPU ms per
  frame leaves what threads, queues and the rest cost.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _open_media(path: Any) -> Any:
    """The tree's media opener (``open_media``; ``open_session`` in older checkouts)."""
    from facelens.core.media import video

    return (getattr(video, "open_media", None) or video.open_session)(path)


STAGES = ("decode", "detect/mesh", "occlusion", "blur", "geometry", "fit", "emotion", "va", "write", "session pass")


def _default_clip() -> Path:
    media = Path(os.environ.get("FACELENS_MEDIA", REPO.parent / "shared" / "media"))
    return media / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4"


def loop_copy(src: Path, dst: Path, loops: int) -> float:
    """``src``'s video packets ``loops`` times into ``dst`` (stream copy, timestamps shifted); seconds."""
    import av

    with av.open(str(src)) as probe:
        stream = probe.streams.video[0]
        pts = sorted(p.pts for p in probe.demux(stream) if p.size and p.pts is not None)
    span = pts[-1] - pts[0] + (pts[1] - pts[0])  # one loop, in the stream's time base
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ist = inp.streams.video[0]
        ost = out.add_stream_from_template(ist)
        for k in range(loops):
            inp.seek(0)
            for packet in inp.demux(ist):
                if not packet.size:
                    continue
                packet.pts += k * span
                packet.dts += k * span
                packet.stream = ost
                out.mux(packet)
        return float(loops * span * ist.time_base)


# -- what a child process measures ----------------------------------------------------------------
def _rusage() -> tuple[float, float]:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0


def child_decode(video: str, fps: float) -> dict[str, Any]:
    w0, c0 = time.perf_counter(), _rusage()[0]
    with _open_media(video) as s:
        n = sum(1 for _ in s.iter_sampled(fps))
    cpu, peak = _rusage()
    return {"frames": n, "wall": time.perf_counter() - w0, "cpu": cpu - c0, "peak_mb": peak}


def child_seek(video: str, n: int = 20) -> dict[str, Any]:
    """``frame_at`` latency: ``n`` random times (seeded) in ``video``."""
    import numpy as np

    with _open_media(video) as s:
        lat = []
        for t in np.random.default_rng(0).uniform(0, max(s.info.duration_s - 0.2, 0.0), n):
            t0 = time.perf_counter()
            s.frame_at(float(t))
            lat.append(time.perf_counter() - t0)
    return {"median_ms": 1e3 * float(np.median(lat)), "max_ms": 1e3 * float(np.max(lat))}


def child_pipeline(video: str, fps: float, workers: int | None) -> dict[str, Any]:
    from facelens.core.analysis.pipeline import run_analysis

    kw = {} if workers is None else {"workers": workers}
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        w0, c0 = time.perf_counter(), _rusage()[0]
        last = None
        for last in run_analysis(video, Path(tmp) / "bench.h5", fps=fps, **kw):
            pass
        wall = time.perf_counter() - w0
    cpu, peak = _rusage()
    return {"frames": last.done if last else 0, "wall": wall, "cpu": cpu - c0, "peak_mb": peak,
            "load": (load0 + os.getloadavg()[0]) / 2}


def child_stages(video: str, fps: float, seconds: float, rows: int = 32, restart: int = 300) -> dict[str, Any]:
    """CPU seconds of each stage, run one after the other on blocks of ``rows`` frames."""
    import numpy as np

    from facelens.core.affect.stage import AffectStage
    from facelens.core.common.types import N_LANDMARKS, Quality
    from facelens.core.face import geometry
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.results import ResultsWriter

    t = dict.fromkeys(STAGES, 0.0)
    clock = time.process_time

    def timed(name: str, fn: Any) -> Any:
        def run(*a: Any) -> Any:
            c = clock()
            try:
                return fn(*a)
            finally:
                t[name] += clock() - c
        return run

    stage = AffectStage.default(device="cpu")
    try:  # the morphable fit (the pipeline's default reconstruction) and the session pass, where the tree has them
        from facelens.core.analysis.recon_stage import ReconStage

        recon: Any = ReconStage()
    except ImportError:
        recon = None
    try:
        from facelens.core.analysis.session_pass import run_session_pass
    except ImportError:
        run_session_pass = None  # type: ignore[assignment]
        t["session pass"] = float("nan")
    if recon is None:
        t["fit"] = float("nan")
    try:  # the pipeline's thread settings (torch, onnxruntime and, where the tree has it, BLAS)
        from facelens.core.analysis.trackers import TorchThreads

        threads: Any = TorchThreads("cpu")
    except ImportError:
        threads = contextlib.nullcontext()
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(1)  # as the pipeline runs it on CPU
    n, tracker = 0, None
    with threads, tempfile.TemporaryDirectory() as tmp, _open_media(video) as session:
        writer = ResultsWriter(Path(tmp) / "s.h5", {}, expression_names=geometry.EXPRESSION_NAMES,
                               emotion_labels=stage.emotion_labels,
                               coef_sizes=recon.coef_sizes if recon is not None else None,
                               appearance=getattr(stage, "va_kind", "") == "g")
        frames = session.iter_sampled(fps)
        while n < seconds * fps:
            c = clock()
            block = [f for _, f in zip(range(rows), frames)]
            t["decode"] += clock() - c
            if not block:
                break
            obs = []
            c = clock()
            for f in block:
                if tracker is None or f.index % restart == 0:
                    if tracker is not None:
                        tracker.close()
                    tracker = FaceTracker()
                    tracker._confidence = timed("occlusion", tracker._confidence)
                    tracker.blur_measure = timed("blur", tracker.blur_measure)
                obs.append(tracker.process(f.rgb))
            t["detect/mesh"] += clock() - c
            c = clock()
            lm = np.full((len(block), N_LANDMARKS, 3), np.nan, np.float32)
            bbox = np.full((len(block), 4), np.nan, np.float32)
            for i, o in enumerate(obs):
                if o.landmarks is not None:
                    lm[i], bbox[i] = o.landmarks, o.bbox
            pose = geometry.head_pose_batch(lm)
            expr = geometry.expression_measures_batch(lm, pose)
            for i in np.flatnonzero(geometry.extreme_pose_mask(pose["euler"])):
                if obs[i].quality in (Quality.OK, Quality.MULTIPLE_FACES):
                    obs[i].quality = Quality.EXTREME_POSE
            cols = {"time_s": np.array([f.time_s for f in block]),
                    "frame_index": np.array([f.frame_index for f in block]),
                    "quality": np.array([int(o.quality) for o in obs], np.uint8),
                    "n_faces": np.array([o.n_faces for o in obs], np.uint8),
                    "confidence": np.array([o.confidence for o in obs], np.float32),
                    "blur": np.array([o.blur for o in obs], np.float32), "bbox": bbox, "landmarks": lm,
                    "expressions": expr, **{k: pose[k] for k in ("euler", "rotation", "translation", "scale")}}
            t["geometry"] += clock() - c
            if recon is not None:
                cols.update(timed("fit", recon.columns)(cols))
            rgb = [f.rgb for f in block]
            if hasattr(stage, "emotions"):
                emotions = timed("emotion", stage.emotions)(rgb, obs)
                va = stage.valence_arousal
                cols.update(timed("va", lambda e, x, tt: va(e, x, tt, coef=cols.get("coef_exp")))(
                    emotions, expr, cols["time_s"]))
            else:  # a tree whose affect stage has no separate steps: both under "emotion"
                cols.update(timed("emotion", stage.process)(rgb, obs, expr, cols["time_s"]))
                t["va"] = float("nan")
            timed("write", writer.append)(cols)
            n += len(block)
        if run_session_pass is not None and recon is not None:
            timed("session pass", lambda: list(run_session_pass(writer, recon, stage.g)))()
        timed("write", writer.finish)()
    if tracker is not None:
        tracker.close()
    t["detect/mesh"] -= t["occlusion"] + t["blur"]
    return {"frames": n, "cpu": t}


def _child_main(spec: dict[str, Any]) -> None:
    fn = {"decode": child_decode, "pipeline": child_pipeline, "stages": child_stages,
          "seek": child_seek}[spec.pop("kind")]
    print("RESULT " + json.dumps(fn(**spec)))


# -- the parent ---------------------------------------------------------------------------------
def _in_child(tree: Path, **spec: Any) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # ahead of the installed (editable) facelens
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
                          env=env, capture_output=True, text=True, cwd=tree, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"child failed in {tree} ({spec['kind']}): {proc.stderr.strip()[-800:]}")
    return json.loads(lines[-1][len("RESULT "):])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--long", type=Path, help="the long recording (default: the clip looped --loops times)")
    ap.add_argument("--clip", type=Path, default=_default_clip())
    ap.add_argument("--loops", type=int, default=30)
    ap.add_argument("--baseline", type=Path, help="another checkout to measure in the same run")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--fps", type=float, default=10.0)
    ap.add_argument("--workers", type=int, default=None, help="pipeline workers (default: the pipeline's own)")
    ap.add_argument("--stage-s", type=float, default=60.0, help="seconds of the stage breakdown (0: skip)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        _child_main(json.loads(a.child))
        return 0
    trees = ([("baseline", a.baseline.resolve())] if a.baseline else []) + [("this tree", REPO)]
    with tempfile.TemporaryDirectory() as tmp:
        video = a.long
        if video is None:
            video = Path(tmp) / "long.mp4"
            secs = loop_copy(a.clip, video, a.loops)
            print(f"long video   {a.clip.name} looped {a.loops}x by stream copy: {secs:.0f} s")
        vid = str(video)
        dec = _in_child(REPO, kind="decode", video=vid, fps=a.fps)
        dec_fps = dec["frames"] / dec["wall"]
        print(f"cpu cores    {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
        print(f"decode only  {dec_fps:7.1f} frames/s  {1e3 * dec['cpu'] / dec['frames']:5.2f} CPU ms/frame  "
              f"({dec['frames']} sampled frames at {a.fps:g} fps)")
        seek = _in_child(REPO, kind="seek", video=vid)
        print(f"frame_at     median {seek['median_ms']:.1f} ms, max {seek['max_ms']:.1f} ms (20 random seeks)")
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _ in trees}
        for r in range(max(1, a.rounds)):
            for name, tree in trees:
                res = _in_child(tree, kind="pipeline", video=vid, fps=a.fps, workers=a.workers)
                runs[name].append(res)
                print(f"round {r + 1} {name:<10} {res['frames'] / res['wall']:7.1f} frames/s  "
                      f"{1e3 * res['cpu'] / res['frames']:5.2f} CPU ms/frame  peak RSS {res['peak_mb']:5.0f} MB"
                      f"  load {res['load']:.1f}", flush=True)
        print(f"\n{'pipeline (median of rounds)':<28}" + "".join(f"{name:>14}" for name, _ in trees))
        rows = {"frames/s": lambda x: x["frames"] / x["wall"], "CPU ms/frame": lambda x: 1e3 * x["cpu"] / x["frames"],
                "x decode-only fps": lambda x: x["frames"] / x["wall"] / dec_fps,
                "peak RSS MB (max)": None}
        for label, f in rows.items():
            vals = [max(x["peak_mb"] for x in runs[n]) if f is None else statistics.median(f(x) for x in runs[n])
                    for n, _ in trees]
            print(f"  {label:<26}" + "".join(f"{v:14.2f}" for v in vals))
        if a.stage_s > 0:
            st = {name: _in_child(tree, kind="stages", video=vid, fps=a.fps, seconds=a.stage_s) for name, tree in trees}
            print(f"\nstages, CPU ms per sampled frame (first {a.stage_s:g} s, one thread, stage by stage)")
            for s in STAGES:
                print(f"  {s:<26}" + "".join(f"{1e3 * st[n]['cpu'][s] / st[n]['frames']:14.2f}" for n, _ in trees))
            tot = {n: 1e3 * sum(v for v in st[n]["cpu"].values() if not math.isnan(v)) / st[n]["frames"] for n, _ in trees}
            print(f"  {'sum of stages':<26}" + "".join(f"{tot[n]:14.2f}" for n, _ in trees))
            pipe = {n: statistics.median(1e3 * x["cpu"] / x["frames"] for x in runs[n]) for n, _ in trees}
            print(f"  {'pipeline minus stages':<26}" + "".join(f"{pipe[n] - tot[n]:14.2f}" for n, _ in trees))
        print(f"load average at the end {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
