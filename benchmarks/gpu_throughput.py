"""Faces per second for detector + mesh + emotion, torch modules vs the CPU pipeline.

Usage::

    python benchmarks/gpu_throughput.py [--device auto] [--batch-sizes 1 16 64 256]
                                         [--video ../shared/media/videos/liveportrait_d3.mp4]

Three figures per batch size, all measured in this run on this machine:

* ``modules``: detector + mesh + emotion forward passes on ready regions (model cost only);
* ``chunks``: what ``--backend torch`` runs per step: ``TorchFaceTracker.process_streams`` on one
  frame of each of ``batch`` independent chunks (upload, detection, one mesh pass, download,
  quality flags) + the emotion model on the device;
* the baseline: mediapipe's ``FaceTracker`` + FER emotion model on the CPU, frame by frame,
  which is what ``facelens analyze --backend mediapipe`` runs.

The ratio columns are against the baseline. Decode throughput follows: the sequential decoder
(one PyAV decoder, as the mediapipe path uses) against :class:`facelens.core.analysis.chunks.ChunkFeeder`
with 1..N decoder threads on chunks of ``--decode-chunk`` sampled frames (the pipeline uses 300;
test clips are short, so the default here is 20), since a fast GPU is useless if frames do not
arrive fast enough.
"""
from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def load_frames(video: Path, n: int) -> tuple[list[np.ndarray], float]:
    """``n`` consecutive 10-fps frames (cycled if the clip is shorter) and the decode rate."""
    from facelens.core.media.video import open_media

    t0 = time.perf_counter()
    with open_media(video) as s:
        frames = [f.rgb for f in s.iter_sampled(fps=10.0)]
    rate = len(frames) / (time.perf_counter() - t0)
    return list(itertools.islice(itertools.cycle(frames), n)), rate


def emotion_on_device(net, images, landmarks):
    """FER2013 crops made on the device (square box + 10 px, grey, 64x64) -> probabilities."""
    import torch

    from facelens.core.face.torchface import roi

    lo = torch.nan_to_num(landmarks[..., :2]).amin(dim=1)
    hi = torch.nan_to_num(landmarks[..., :2]).amax(dim=1)
    c = (lo + hi) / 2
    side = (hi - lo).amax(dim=1) + 20.0
    rects = torch.stack((c[:, 0], c[:, 1], side, side, torch.zeros_like(side)), dim=1)
    rgb = roi.crop(images, rects, 64, border="zero")
    grey = (0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2])[:, None]
    return torch.softmax(net((grey / 255.0 - 0.5) * 2.0), dim=1)


def bench_modules(device, batch: int, repeats: int, fer_net) -> float:
    """Pure model throughput: detector (128 px) + mesh (192 px crop) + emotion, faces/s."""
    import torch

    from facelens.core.face.torchface.detector import FaceDetector
    from facelens.core.face.torchface.mesh import FaceMesh

    det, mesh = FaceDetector().to(device).eval(), FaceMesh().to(device).eval()
    images = torch.rand(batch, 3, 360, 640, device=device) * 255
    rects = torch.tensor([[320.0, 180.0, 220.0, 220.0, 0.05]], device=device).repeat(batch, 1)
    with torch.inference_mode():
        for i in range(repeats + 1):
            if i == 1:
                _sync(device)
                t0 = time.perf_counter()
            det.raw(images)
            lm, _ = mesh(images, rects)
            if fer_net is not None:
                emotion_on_device(fer_net, images, lm)
        _sync(device)
    return batch * repeats / (time.perf_counter() - t0)


def bench_chunks(device, frames: list[np.ndarray], batch: int, steps: int, fer_net) -> float:
    """Chunk-parallel tracking: ``batch`` streams (offsets into the clip), ``steps`` frames each; faces/s."""
    import torch

    from facelens.core.face.torchface import TorchFaceTracker

    tr = TorchFaceTracker(device=device)
    n = len(frames)
    offsets = [(i * n) // batch for i in range(batch)]  # each stream starts elsewhere in the clip
    tr.process_streams([frames[o % n] for o in offsets], [None] * batch)  # warm-up
    states: list = [None] * batch
    _sync(tr.device)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for t in range(steps):
            step = [frames[(o + t) % n] for o in offsets]
            obs, states = tr.process_streams(step, states)
            if fer_net is not None:
                imgs = torch.from_numpy(np.stack(step)).to(tr.device).permute(0, 3, 1, 2).float()
                lm = torch.from_numpy(np.stack([o.landmarks if o.landmarks is not None
                                                else np.full((478, 3), np.nan, np.float32) for o in obs]))
                emotion_on_device(fer_net, imgs, lm.to(tr.device))
    _sync(tr.device)
    rate = batch * steps / (time.perf_counter() - t0)
    tr.close()
    return rate


def bench_decode(video: Path, fps: float, chunk: int, max_threads: int) -> None:
    """Sampled frames/s: the sequential decoder vs chunk decoders with 1..max_threads threads."""
    from facelens.core.analysis.chunks import ChunkFeeder, plan_samples
    from facelens.core.media.video import open_media

    with open_media(video) as s:
        sum(1 for _ in s.iter_sampled(fps))  # warm-up: file cache, codec start
        t0 = time.perf_counter()
        n = sum(1 for _ in s.iter_sampled(fps))
        seq = n / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        plan = plan_samples(s, fps)
        t_plan = time.perf_counter() - t0
        print(f"decode {video.name} at {fps:g} fps ({n} sampled frames, {s.info.width}x{s.info.height}):")
        print(f"  sequential decoder: {seq:.0f} frames/s; sampling plan (demux only): {t_plan * 1000:.0f} ms")
        if plan is None:
            print("  no sampling plan for this file: the pipeline decodes it sequentially")
            return
        chunks = plan.chunks(chunk)
        for threads in range(1, max_threads + 1):
            t0 = time.perf_counter()
            with ChunkFeeder(s, plan, chunks, threads=threads) as feeder:
                got = sum(len(step) for step in feeder)
            rate = got / (time.perf_counter() - t0)
            print(f"  {len(chunks)} chunks of {chunk}, {threads} thread(s): {rate:.0f} frames/s "
                  f"({rate / seq:.2f} x sequential)")


def bench_cpu_baseline(frames: list[np.ndarray]) -> float:
    """mediapipe FaceTracker + FER on the CPU, one frame at a time (the default backend)."""
    from facelens.core.face.tracking import FaceTracker

    try:
        from facelens.core.affect.fer import FerEmotionModel

        fer = FerEmotionModel(device="cpu")
    except Exception as exc:  # noqa: BLE001 - the baseline still means something without it
        print(f"(baseline without emotion: {exc})")
        fer = None
    with FaceTracker() as tr:
        tr.process(frames[0])
        t0 = time.perf_counter()
        for f in frames:
            o = tr.process(f)
            if fer is not None and o.bbox is not None:
                fer.predict_faces([f], [o.bbox])
    return len(frames) / (time.perf_counter() - t0)


def bench_pipeline(video: Path, device: str, parallel: int, restart_every: int, fps: float) -> None:
    """Whole analyses in one run: mediapipe, torch frame by frame, torch chunk-parallel; frames/s."""
    import tempfile

    from facelens.core.analysis import pipeline

    pipeline.RESTART_EVERY = restart_every  # short clips: several chunks (the results depend on it)
    print(f"pipeline on {video.name} at {fps:g} fps, restart every {restart_every} frames:")
    runs = [("mediapipe", {"backend": "mediapipe"}),
            ("torch, sequential", {"backend": "torch", "parallel_chunks": 0}),
            (f"torch, {parallel} chunks", {"backend": "torch", "parallel_chunks": parallel})]
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for label, kw in runs:
            t0 = time.perf_counter()
            out = pipeline.analyze_to_file(video, Path(tmp) / f"{len(label)}.h5", fps=fps, device=device, **kw)
            rate = _n_frames(out) / (time.perf_counter() - t0)
            base = base or rate
            print(f"  {label:>20}: {rate:6.1f} frames/s ({rate / base:.2f} x mediapipe)")


def _n_frames(path: Path) -> int:
    from facelens.core.results import SessionResults

    with SessionResults.open(path) as r:
        return r.n_frames


def main(argv: list[str] | None = None) -> None:
    import os

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16, 64, 256])
    p.add_argument("--video", type=Path, default=REPO.parent / "shared/media/videos/liveportrait_d3.mp4")
    p.add_argument("--steps", type=int, default=8, help="tracking steps per batch size")
    p.add_argument("--baseline-frames", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--decode-video", type=Path, default=None, help="default: --video")
    p.add_argument("--decode-chunk", type=int, default=20)
    p.add_argument("--decode-threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--skip-models", action="store_true", help="decode figures only")
    p.add_argument("--pipeline", action="store_true", help="also time whole analyses of --video")
    p.add_argument("--restart-every", type=int, default=30, help="for --pipeline (the pipeline uses 300)")
    a = p.parse_args(argv)

    import torch

    from facelens.core.common.devices import resolve_device

    device = torch.device(resolve_device(a.device))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"device: {device} ({name}); torch {torch.__version__}; threads {torch.get_num_threads()}; "
          f"{os.cpu_count()} cores; load {os.getloadavg()[0]:.1f}")
    if not a.skip_models:
        try:
            from facelens.core.affect.fer import FerEmotionModel

            fer_net = FerEmotionModel(device=str(device)).net.eval()
        except Exception as exc:  # noqa: BLE001
            print(f"emotion model unavailable ({exc}); figures are detector + mesh only")
            fer_net = None
        frames, _ = load_frames(a.video, max(a.baseline_frames, 32))
        base = bench_cpu_baseline(frames[: a.baseline_frames])
        print(f"baseline (mediapipe CPU + FER CPU, per frame): {base:.1f} faces/s\n")
        print(f"{'batch':>5} | {'modules f/s':>11} | {'x base':>6} | {'chunks f/s':>10} | {'x base':>6}")
        for b in a.batch_sizes:
            mod = bench_modules(device, b, a.repeats, fer_net)
            trk = bench_chunks(device, frames, b, a.steps, fer_net)
            print(f"{b:>5} | {mod:>11.1f} | {mod / base:>6.2f} | {trk:>10.1f} | {trk / base:>6.2f}")
        print()
    bench_decode(a.decode_video or a.video, 10.0, a.decode_chunk, a.decode_threads)
    if a.pipeline:
        print()
        bench_pipeline(a.video, str(device), max(a.batch_sizes), a.restart_every, 10.0)


if __name__ == "__main__":
    main()
