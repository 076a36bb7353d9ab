"""Chunk-parallel mediapipe tracking on CPU: restart chunks tracked by worker threads.

The pipeline restarts the face tracker every ``restart_every`` sampled frames (its resume
points), so tracking is defined per *chunk* and chunks are independent. :func:`run_threaded`
hands whole chunks to ``workers`` threads; each decodes its chunk with its own seeking decoder
(:func:`facelens.core.analysis.chunks.iter_chunk`, checked frame by frame against the sampling plan),
tracks it with a fresh :class:`~facelens.core.face.tracking.FaceTracker`, measures geometry and runs
the emotion model, then drops the RGB frames. The main thread takes the chunks' row blocks in
time order and runs the stateful part (valence/arousal baseline and smoothing, through the
affect stage with a stand-in emotion model that returns the probabilities already computed) and
the writer.

Why threads, not processes: mediapipe's ``FaceMesh.process`` releases the GIL while its graph
runs (measured on the 2-core build machine: the Wolfgang clip, 197 frames, tracked by one thread
2.18 s wall / 2.25 s CPU, split over two threads 1.27 s wall / 2.23 s CPU, i.e. 1.7x), PyAV
releases it while decoding, and torch while the emotion model runs; threads share the loaded
models and need no pickling.

Identical to the sequential run. Within a chunk the worker cuts the same blocks as the
sequential loop (``rows`` frames from the chunk's start; chunks start at restart points), so the
emotion model sees the same batches; the tracker is fresh at each chunk as the sequential loop
makes it; the chunk decoders reproduce the sequential decoder's frames bit for bit (or raise
:class:`~facelens.core.analysis.chunks.ChunkMismatch`); and the affect stage sees the blocks in time
order. ``tests/test_chunk_threads.py`` checks ``np.array_equal`` on every stored array.

Memory bound
------------
No image leaves a worker: a buffered row is the landmarks (478 x 3 float32, 5.7 KB), the other
columns (~0.3 KB) and 7 probabilities, ~6 KB. At most ``window`` = ``2 * workers`` chunks are
in flight or waiting, so buffered rows stay below ``6 KB * restart_every * 2 * workers`` (7 MB
at 2 workers and 300-frame chunks) plus, per worker, one block of decoded frames
(``rows`` x W x H x 3 bytes: 22 MB at 32 rows of 640x360) and its decoder's own buffers;
independent of the video's length. Measured (a 600-s looped 640x360 video, 6000 sampled frames,
RSS every 600 frames): 2 workers 856-1028 MB, no upward trend; sequential 661-769 MB. The extra
~170 MB are the second tracker's mediapipe graphs, a second decoder and per-thread allocator arenas.

Speed (``benchmarks/throughput.py``; measured on the shared 2-core build machine while other
jobs kept its load average at 3.5-6, so this process got about one core in either mode): CPU time
per sampled frame is the same in both modes (Wolfgang looped 180 s: 15.2 ms with 2 workers vs
16.0 sequential; single_face looped 90 s: 12.1 vs 12.5), i.e. no overhead; the wall-time gain
needs a second free core (tracking alone scaled 1.5-1.75x on two threads at load 1.3-4.4).
"""
from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from facelens.core.analysis.chunks import ChunkMismatch, SamplePlan, iter_chunk
from facelens.core.common.types import FaceObservation, Progress, SampledFrame
from facelens.core.media.video import VideoSession, _av_errors

_log = logging.getLogger(__name__)
_END = object()  # a worker's last item on its chunk's queue


def _decoded(session: VideoSession, plan: SamplePlan, first: int, stop: int) -> Iterator[SampledFrame]:
    """The chunk's frames; a decoding error after the seek becomes :class:`ChunkMismatch`, so the
    pipeline goes on with the sequential decoder (which reports a damaged file in one line)."""
    frames = iter_chunk(session, plan, first, stop)
    try:
        while True:
            try:
                f = next(frames, None)
            except _av_errors() as exc:
                raise ChunkMismatch(f"decoding after a seek failed ({str(exc)[:120]})") from None
            if f is None:
                return
            yield f
    finally:
        frames.close()  # type: ignore[attr-defined]  # the chunk's container, also when a worker halts


def _track_chunk(session: VideoSession, plan: SamplePlan, first: int, stop: int, rows: int,
                 make_tracker: Callable[[], Any], emotion_model: Any, out: queue.Queue[Any],
                 halt: threading.Event) -> None:
    """Worker: decode, track and measure sampled frames ``first .. stop-1``; blocks go to ``out``."""
    from facelens.core.affect.precomputed import emotions_for_usable_faces
    from facelens.core.analysis.pipeline import _columns

    tracker = None
    try:
        tracker = make_tracker()  # fresh per chunk, as the sequential loop restarts it
        frames: list[SampledFrame] = []
        obs: list[FaceObservation] = []

        def emit() -> None:
            cols = _columns(frames, obs)  # also sets EXTREME_POSE, before the usable test
            emo = emotions_for_usable_faces(emotion_model, frames, obs)
            for o in obs:
                o.landmarks = None  # kept in the columns; the stage reads quality + bbox
            out.put((cols, list(obs), emo))  # columns, observations, emotion model output
            frames.clear()  # the RGB frames go here
            obs.clear()

        for f in _decoded(session, plan, first, stop):
            if halt.is_set():
                return
            frames.append(f)
            obs.append(tracker.process(f.rgb))
            if len(frames) >= rows:
                emit()
        if frames and not halt.is_set():
            emit()
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there in order
        out.put(exc)
    finally:
        if tracker is not None:
            tracker.close()
        out.put(_END)


def run_threaded(session: VideoSession, plan: SamplePlan, stage: Any, writer: Any, *,
                 make_tracker: Callable[[], Any], restart_every: int, rows: int, workers: int,
                 cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
    """Track the chunks from ``writer.n_done`` (a restart point) to the end with ``workers`` threads.

    Yields a :class:`Progress` after each block written. Does not finish the writer.

    Raises
    ------
    facelens.core.analysis.chunks.ChunkMismatch
        Seek decoding disagreed with the plan; the rows written so far are correct and the
        caller may go on sequentially from the last restart point.
    facelens.core.analysis.pipeline.AnalysisCancelled
        ``cancel()`` returned True (checked after every block).
    """
    from facelens.core.affect.precomputed import PrecomputedEmotions
    from facelens.core.analysis.pipeline import AnalysisCancelled

    if writer.n_done % restart_every:
        raise ValueError("chunk-parallel analysis starts at a restart point")
    chunks = plan.chunks(restart_every, writer.n_done // restart_every)
    replay = copy.copy(stage)  # shares the estimator state; only the emotion model is swapped
    replay.emotion_model = None if stage.emotion_model is None else PrecomputedEmotions(stage.emotion_model)
    start_done, t0 = writer.n_done, time.perf_counter()
    total = max(plan.n_sampled, writer.n_done)
    window = 2 * max(1, workers)  # chunks in flight or waiting: the memory bound (module docstring)
    halt = threading.Event()
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="facelens-chunk")
    queues: dict[int, queue.Queue[Any]] = {}
    futures: list[Future] = []
    submitted = 0

    def fill(consuming: int) -> None:
        nonlocal submitted
        while submitted < len(chunks) and submitted < consuming + window:
            a, b = chunks[submitted]
            q: queue.Queue[Any] = queue.Queue()
            queues[submitted] = q
            futures.append(pool.submit(_track_chunk, session, plan, a, b, rows, make_tracker,
                                       stage.emotion_model, q, halt))
            submitted += 1

    try:
        for k in range(len(chunks)):
            fill(k)
            blocks = queues.pop(k)
            while (item := blocks.get()) is not _END:
                if isinstance(item, BaseException):
                    raise item
                cols, obs, emo = item
                cols.update(replay.process(emo, obs, cols["expressions"], cols["time_s"]))
                writer.append(cols)
                done = writer.n_done
                rate = (done - start_done) / max(time.perf_counter() - t0, 1e-9)
                eta = (total - done) / rate if rate > 0 else float("nan")
                yield Progress(done=done, total=total, rate=rate, eta_s=eta, message="analysing", partial=cols)
                if cancel is not None and cancel():
                    raise AnalysisCancelled(writer.partial, writer.n_done)
    finally:
        halt.set()  # workers stop at their next frame; queued chunks are not started
        pool.shutdown(wait=True, cancel_futures=True)
