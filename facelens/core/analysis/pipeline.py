"""The analysis pipeline: video -> sampled frames -> face track -> geometry -> affect -> results file.

:func:`run_analysis` is a generator that yields a :class:`~facelens.core.common.types.Progress` after
each batch (``partial`` holds the batch's columns, so a GUI can draw while it runs) and checks a
cancel callback there. The same generator drives the CLI, the GUI worker and the tests;
:func:`analyze_to_file` drains it.

Decoding runs in a thread that feeds a bounded queue (PyAV releases the GIL while decoding), so
the tracker never waits for the decoder; memory stays bounded whatever the video's length
because frames are dropped once their batch is written.

Exact resumption. Results depend on state carried from frame to frame: mediapipe tracks the face
from the previous frame's mesh, and the valence/arousal estimator keeps a running baseline and a
smoother. So that an interrupted run, resumed, gives the same arrays as an uninterrupted one:

* the tracker restarts (fresh detection) every :data:`RESTART_EVERY` sampled frames, and a resume
  starts at the last such restart point (frames after it are recomputed);
* the valence/arousal state is rebuilt by replaying the stored emotions and expression measures
  of the frames already on disk (the stored float32 values are exactly what the estimator saw).

Chunk-parallel torch backend. Because tracking restarts at every restart point, ``backend="torch"``
tracks ``parallel_chunks`` restart chunks side by side, one frame of each per batch, each chunk
decoded by its own seeking decoder (:mod:`facelens.core.analysis.chunks`,
:mod:`facelens.core.analysis.torch_chunks`); the results equal frame-by-frame tracking with the
sequential decoder (``parallel_chunks=0``), which is also the fallback for images and for streams
whose seek decoding cannot be shown to match (then the run goes on sequentially from the last
restart point, exactly like a resume).

Chunk-parallel mediapipe backend (CPU). ``backend="mediapipe"`` with ``workers`` > 1 (default:
one per core, at most 2) hands whole restart chunks to worker threads, each with its own seeking
decoder and FaceTracker (:mod:`facelens.core.analysis.chunk_threads`); mediapipe, PyAV and torch release
the GIL, so the chunks really run side by side. Valence/arousal and the writer see the blocks in
time order in this thread. The results equal the sequential run (``workers=1``) exactly; the
same fallbacks apply.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.results import ResultsError, ResultsWriter, partial_path
from facelens.core.common.types import N_LANDMARKS, FaceObservation, Progress, Quality, SampledFrame, is_usable
from facelens.core.media.video import Session, open_session

_log = logging.getLogger(__name__)
RESTART_EVERY = 300  # sampled frames (30 s at 10 fps) between tracker restarts = resume points
_QUEUE_BYTES = 192 * 2**20  # decoded frames waiting for the tracker, at most
_BATCH_BYTES = 256 * 2**20  # RGB frames of one batch (the affect stage needs whole frames)
MAX_YAW, MAX_PITCH = 45.0, 35.0  # EXTREME_POSE limits, degrees (geometry.apply_pose_quality defaults)


class AnalysisCancelled(Exception):
    """The cancel callback asked to stop; ``partial`` is the resumable file left behind."""

    def __init__(self, partial: Path, done: int) -> None:
        super().__init__(f"analysis cancelled after {done} frames; resume with the same output and --resume")
        self.partial = partial
        self.done = done


class PipelineError(Exception):
    """The analysis cannot run with these options (one-line message)."""


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device not in ("auto", "cpu") and not device.startswith("cuda"):
        raise PipelineError(f"unknown device {device!r} (use auto, cpu or cuda)")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda" if device == "auto" else device
    if device == "auto":
        return "cpu"
    raise PipelineError("device 'cuda' requested but torch sees no CUDA GPU")


class _TorchThreads:
    """On CPU, run torch single-threaded while analysing, then restore the previous setting.

    The decoder thread and mediapipe's own threads already occupy the cores; torch's OpenMP
    workers spinning beside them made the emotion model ~7x slower per face (measured on the
    2-core build machine: 50 ms vs 7 ms per frame).
    """

    def __init__(self, device: str) -> None:
        self.device, self.saved = device, 0

    def __enter__(self) -> None:
        if self.device == "cpu":
            import torch

            self.saved = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.saved:
            import torch

            torch.set_num_threads(self.saved)


def _make_tracker(backend: str, device: str, static: bool) -> Any:
    if backend == "mediapipe":
        from facelens.core.face.tracking import FaceTracker

        return FaceTracker(static=static)
    if backend == "torch":
        try:
            from facelens.core.face.torchface.tracker import TorchFaceTracker
        except ImportError as exc:
            raise PipelineError(f"the torch face-tracking backend is not available ({exc})") from None
        return TorchFaceTracker(device=device, static=static) if static else TorchFaceTracker(device=device)
    raise PipelineError(f"unknown backend {backend!r} (use mediapipe or torch)")


def _tracker_cards(backend: str, device: str) -> list[dict]:
    from facelens.core.registry import ModelError, registry

    cards = []
    for mid in ("mediapipe-face-detection-short", "mediapipe-face-landmark-attention"):
        try:
            card = registry.get(mid).as_dict()
        except ModelError:
            card = {"id": mid}
        card["runtime_used"] = "mediapipe FaceMesh (CPU)" if backend == "mediapipe" else f"torch ({device})"
        cards.append(card)
    return cards


class _Decoder:
    """Decode in a thread into a bounded queue; iterate to get frames; ``stop()`` to abandon."""

    _END = object()

    def __init__(self, session: Session, fps: float, start_index: int) -> None:
        frame_bytes = max(1, session.info.width * session.info.height * 3)
        self._q: queue.Queue[Any] = queue.Queue(maxsize=int(np.clip(_QUEUE_BYTES // frame_bytes, 2, 64)))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(session, fps, start_index),
                                        name="facelens-decode", daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, session: Session, fps: float, start_index: int) -> None:
        try:
            for frame in session.iter_sampled(fps, start_index):
                if not self._put(frame):
                    return
            self._put(self._END)
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def __iter__(self) -> Iterator[SampledFrame]:
        while True:
            item = self._q.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


def _batches(frames: Iterator[SampledFrame], size: int) -> Iterator[list[SampledFrame]]:
    batch: list[SampledFrame] = []
    for f in frames:
        batch.append(f)
        # never let a batch cross a restart point, so batches before and after a resume line up
        if len(batch) >= size or (f.index + 1) % RESTART_EVERY == 0:
            yield batch
            batch = []
    if batch:
        yield batch


def _columns(frames: list[SampledFrame], obs: list[FaceObservation]) -> dict[str, np.ndarray]:
    """Tracker output + geometry for one batch, as results-file columns."""
    from facelens.core.face import geometry

    b = len(frames)
    lm = np.full((b, N_LANDMARKS, 3), np.nan, np.float32)
    bbox = np.full((b, 4), np.nan, np.float32)
    for i, o in enumerate(obs):
        if o.landmarks is not None:
            lm[i] = o.landmarks
        if o.bbox is not None:
            bbox[i] = o.bbox
    pose = geometry.head_pose_batch(lm)
    expressions = geometry.expression_measures_batch(lm, pose)
    extreme = geometry.extreme_pose_mask(pose["euler"], MAX_YAW, MAX_PITCH)
    for i, o in enumerate(obs):  # same rule as geometry.apply_pose_quality, vectorised
        if extreme[i] and o.quality in (Quality.OK, Quality.MULTIPLE_FACES):
            o.quality = Quality.EXTREME_POSE
    return {
        "time_s": np.array([f.time_s for f in frames], np.float64),
        "frame_index": np.array([f.frame_index for f in frames], np.int64),
        "quality": np.array([int(o.quality) for o in obs], np.uint8),
        "n_faces": np.array([o.n_faces for o in obs], np.uint8),
        "confidence": np.array([o.confidence for o in obs], np.float32),
        "blur": np.array([o.blur for o in obs], np.float32),
        "bbox": bbox, "landmarks": lm, "expressions": expressions,
        "euler": pose["euler"], "rotation": pose["rotation"], "translation": pose["translation"],
        "scale": pose["scale"],
    }


def _replay_affect_state(stage: Any, out: Path, n: int) -> None:
    """Rebuild the valence/arousal estimator's state from the first ``n`` stored frames."""
    if n == 0 or getattr(stage, "uses_model_va", False) or not hasattr(stage.va, "estimate"):
        return  # model-given VA is smoothed over 0.3 s only; nothing long-lived to rebuild
    import h5py

    from facelens.core.face.geometry import EXPRESSION_NAMES

    with h5py.File(partial_path(out), "r") as f:
        fr = f["frames"]
        emotions = fr["emotions"][:n] if "emotions" in fr and stage.emotion_model is not None else None
        stage.va.estimate(emotions, fr["expressions"][:n], list(EXPRESSION_NAMES), fr["time_s"][:n],
                          is_usable(fr["quality"][:n]))


def run_analysis(video: str | Path, out: str | Path, *, fps: float = 10.0, device: str = "auto",
                 backend: str = "mediapipe", resume: bool = False, batch_size: int = 32,
                 cancel: Callable[[], bool] | None = None, demo: bool = False,
                 parallel_chunks: int | None = None, decode_threads: int | None = None,
                 workers: int | None = None) -> Iterator[Progress]:
    """Analyse ``video`` into the results file ``out``, yielding progress after each batch.

    ``parallel_chunks`` (torch backend only): restart chunks tracked side by side (default
    ``batch_size``; 0 = sequential decoding, frame by frame); ``decode_threads``: their decoder
    threads (default one per chunk, at most one per core). ``workers`` (mediapipe backend only):
    threads tracking restart chunks side by side (default :func:`default_workers`; 1 =
    sequential). None of them changes the results.

    Raises
    ------
    facelens.core.media.video.VideoError
        Unusable input (before anything is written).
    PipelineError, facelens.core.registry.ModelError, ResultsError
        Bad options, missing model weights, an unusable partial file to resume.
    AnalysisCancelled
        ``cancel()`` returned True; ``OUT.partial`` is left for ``resume=True``.
    """
    from facelens import __version__
    from facelens.core.affect.stage import AffectStage
    from facelens.core.face.geometry import EXPRESSION_NAMES
    from facelens.core.common.hashing import sha256_file

    if fps <= 0 or batch_size < 1:
        raise PipelineError("fps and batch size must be positive")
    if (parallel_chunks is not None and parallel_chunks < 0) or (decode_threads is not None and decode_threads < 1):
        raise PipelineError("parallel chunks must be >= 0 and decode threads >= 1")
    if workers is not None and workers < 1:
        raise PipelineError("workers must be >= 1")
    out = Path(out)
    session = open_session(video)  # VideoError for unusable input, before any file is touched
    try:
        used_device = resolve_device(device)
        info = session.info
        tracker = _make_tracker(backend, used_device, info.is_image)
        stage = AffectStage.default(device=used_device)
        n_workers = (workers or default_workers()) if backend == "mediapipe" else 1
        params = {"fps": fps, "device": used_device, "device_requested": device, "backend": backend,
                  "batch_size": batch_size, "tracker_restart_every": RESTART_EVERY,
                "workers": n_workers,
                  "max_yaw_deg": MAX_YAW, "max_pitch_deg": MAX_PITCH,
                  "blur_threshold": getattr(tracker, "blur_threshold", None),
                  "min_confidence": getattr(tracker, "min_confidence", None)}
        meta = {"video_path": str(Path(video).resolve()), "video_sha256": sha256_file(video),
                "duration_s": info.duration_s, "native_fps": info.native_fps, "width": info.width,
                "height": info.height, "rotation_deg": info.rotation_deg, "codec": info.codec,
                "is_image": info.is_image, "facelens_version": __version__, "demo": bool(demo),
                "params": params, "models": _tracker_cards(backend, used_device) + stage.model_cards(),
                "notices": list(getattr(stage, "notices", []))}
        resume = resume and partial_path(out).exists()
        writer = ResultsWriter(out, meta, expression_names=EXPRESSION_NAMES,
                               emotion_labels=stage.emotion_labels, resume=resume)
        try:
            if writer.n_done % RESTART_EVERY:
                writer.truncate(writer.n_done - writer.n_done % RESTART_EVERY)
            _replay_affect_state(stage, out, writer.n_done)
            with _TorchThreads(used_device):
                parallel = batch_size if parallel_chunks is None else parallel_chunks
                t0, start_done = time.perf_counter(), writer.n_done
                if backend == "torch" and parallel > 0 and hasattr(tracker, "process_streams"):
                    yield from _run_parallel(session, tracker, stage, writer, out, fps, batch_size, cancel,
                                             parallel, decode_threads)
                elif backend == "mediapipe" and n_workers > 1 and not info.is_image:
                    yield from _run_parallel(session, tracker, stage, writer, out, fps, batch_size, cancel,
                                             0, None, workers=n_workers)
                else:
                    yield from _run(session, tracker, stage, writer, fps, batch_size, cancel, backend, used_device)
                yield from _finish(session, writer, t0, start_done)
        except BaseException:
            writer.close()  # leaves OUT.partial (resumable); never OUT itself
            raise
        finally:
            tracker.close()
    finally:
        session.close()


def default_workers() -> int:
    """Chunk worker threads for the mediapipe backend: one per core, at most 2.

    Each worker holds its own mediapipe graphs and decoder (peak RSS about 170 MB above the
    sequential run with 2 workers, measured; see :mod:`facelens.core.analysis.chunk_threads`); more threads
    than cores would only compete for the GIL and the cores.
    """
    import os

    return max(1, min(2, os.cpu_count() or 1))


def _batch_rows(session: Session, batch_size: int) -> int:
    """Frames per batch: ``batch_size``, fewer for huge frames (the RGB of one batch is bounded)."""
    return max(1, min(batch_size, _BATCH_BYTES // max(1, session.info.width * session.info.height * 3)))


def _run_parallel(session: Session, tracker: Any, stage: Any, writer: ResultsWriter, out: Path, fps: float,
                  batch_size: int, cancel: Callable[[], bool] | None, parallel: int,
                  decode_threads: int | None, workers: int = 0) -> Iterator[Progress]:
    """Chunk-parallel tracking (torch: ``parallel`` chunks per step; mediapipe: ``workers`` threads);
    without a plan, or on a decoding mismatch, go on sequentially from a restart point."""
    from facelens.core.analysis.chunks import ChunkMismatch, plan_samples

    backend = "mediapipe" if workers else "torch"
    device = str(getattr(tracker, "device", "cpu"))
    plan = plan_samples(session, fps)
    if plan is None or (workers and len(plan.chunks(RESTART_EVERY, writer.n_done // RESTART_EVERY)) < 2):
        # no plan (images, odd files), or a single chunk left: nothing to run side by side
        _log.info("%s: decoding sequentially", Path(session.info.path).name)
        yield from _run(session, tracker, stage, writer, fps, batch_size, cancel, backend, device)
        return
    try:
        if workers:
            from facelens.core.analysis.chunk_threads import run_threaded

            yield from run_threaded(session, plan, stage, writer,  # type: ignore[arg-type]
                                    make_tracker=lambda: _make_tracker("mediapipe", device, False),
                                    restart_every=RESTART_EVERY, rows=_batch_rows(session, batch_size),
                                    workers=workers, cancel=cancel)
        else:
            from facelens.core.analysis.torch_chunks import run_chunked

            rows = max(1, min(batch_size, RESTART_EVERY))
            yield from run_chunked(session, plan, tracker, stage, writer,  # type: ignore[arg-type]
                                   restart_every=RESTART_EVERY, parallel=parallel, rows=rows,
                                   threads=decode_threads, cancel=cancel)
    except ChunkMismatch as exc:
        _log.warning("%s: seek decoding differs from sequential decoding (%s); going on sequentially",
                     Path(session.info.path).name, exc)
        writer.truncate(writer.n_done - writer.n_done % RESTART_EVERY)
        stage.reset()
        _replay_affect_state(stage, out, writer.n_done)
        yield from _run(session, tracker, stage, writer, fps, batch_size, cancel, backend, device)


def _run(session: Session, tracker: Any, stage: Any, writer: ResultsWriter, fps: float, batch_size: int,
         cancel: Callable[[], bool] | None, backend: str, device: str) -> Iterator[Progress]:
    """Track batch k+1 in this thread while a worker runs affect + writing for batch k.

    Only one worker thread touches the affect stage and the writer, in batch order, so results
    do not depend on the overlap; it just keeps both cores busy (torch and mediapipe release the GIL).
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    info = session.info
    total = session.n_sampled(fps)
    start_done, t0 = writer.n_done, time.perf_counter()
    size = _batch_rows(session, batch_size)

    def finish_batch(frames: list[SampledFrame], obs: list[FaceObservation],
                     cols: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], int]:
        cols.update(stage.process([f.rgb for f in frames], obs, cols["expressions"], cols["time_s"]))
        writer.append(cols)
        return cols, writer.n_done

    def report(result: tuple[dict[str, np.ndarray], int]) -> Progress:
        nonlocal total
        cols, done = result
        total = max(total, done)
        rate = (done - start_done) / max(time.perf_counter() - t0, 1e-9)
        eta = (total - done) / rate if rate > 0 else float("nan")
        return Progress(done=done, total=total, rate=rate, eta_s=eta, message="analysing", partial=cols)

    decoder = _Decoder(session, fps, writer.n_done)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facelens-affect")
    pending: Future | None = None
    try:
        for frames in _batches(iter(decoder), size):
            if frames[0].index % RESTART_EVERY == 0 and frames[0].index > 0:
                tracker.close()  # fresh detection: the resume point's state, see module docstring
                tracker = _make_tracker(backend, device, info.is_image)
            # frame by frame: mediapipe's tracking rule exactly (the torch tracker's fixed-point
            # process_batch is close but not identical; the torch backend batches across chunks)
            obs = [tracker.process(f.rgb) for f in frames]
            cols = _columns(frames, obs)
            if pending is not None:
                yield report(pending.result())
                pending = None
                if cancel is not None and cancel():
                    raise AnalysisCancelled(writer.partial, writer.n_done)
            pending = worker.submit(finish_batch, frames, obs, cols)
        if pending is not None:
            yield report(pending.result())
            pending = None
            if cancel is not None and cancel():
                raise AnalysisCancelled(writer.partial, writer.n_done)
    finally:
        if pending is not None:
            try:
                pending.result()  # never close the writer under a batch being written
            except BaseException:
                pass
        worker.shutdown(wait=True)
        decoder.stop()
        tracker.close()


def _finish(session: Session, writer: ResultsWriter, t0: float, start_done: int) -> Iterator[Progress]:
    if writer.n_done == 0:
        raise ResultsError(f"{Path(session.info.path).name}: no frame was decoded")
    wall = time.perf_counter() - t0
    writer.finish({"n_frames": writer.n_done, "wall_s": round(wall, 3),
                   "frames_per_s": round((writer.n_done - start_done) / max(wall, 1e-9), 2),
                   "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    yield Progress(done=writer.n_done, total=writer.n_done, rate=0.0, eta_s=0.0, message="done")


def analyze_to_file(video: str | Path, out: str | Path, **kw: Any) -> Path:
    """Run :func:`run_analysis` to the end and return the results file's path."""
    for _ in run_analysis(video, out, **kw):
        pass
    return Path(out)
