"""Chunk-parallel mediapipe tracking on CPU: restart chunks tracked by worker threads.

The pipeline restarts the face tracker every ``restart_every`` sampled frames (its resume
points), so tracking is defined per *chunk* and chunks are independent. :func:`run_threaded`
hands whole chunks to ``workers`` threads; each decodes its chunk with its own seeking decoder
(:func:`facelens.core.analysis.chunks.iter_chunk`, checked frame by frame against the sampling plan),
tracks it with a fresh :class:`~facelens.core.face.tracking.FaceTracker`, measures geometry and runs
the emotion model (the affect stage's stateless part), then drops the RGB frames. The main thread
takes the chunks' row blocks in time order and hands them to the ordered sink (valence/arousal
baseline and smoothing, the writer).

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

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from facelens.core.affect.stage import AffectStage
from facelens.core.analysis.chunks import ChunkMismatch, SamplePlan, iter_chunk
from facelens.core.analysis.contract import AnalysisConfig
from facelens.core.analysis.frame_columns import frame_columns
from facelens.core.analysis.sequential import block_rows
from facelens.core.analysis.sink import OrderedSink
from facelens.core.analysis.trackers import track_frames
from facelens.core.common.types import FaceObservation, Progress, SampledFrame
from facelens.core.media.video import MediaSource, VideoSource, av_errors

_log = logging.getLogger(__name__)
_END = object()  # a worker's last item on its chunk's queue


def _decoded(session: VideoSource, plan: SamplePlan, first: int, stop: int) -> Iterator[SampledFrame]:
    """The chunk's frames; a decoding error after the seek becomes :class:`ChunkMismatch`, so the
    pipeline goes on with the sequential decoder (which reports a damaged file in one line)."""
    frames = iter_chunk(session, plan, first, stop)
    try:
        while True:
            try:
                f = next(frames, None)
            except av_errors() as exc:
                raise ChunkMismatch(f"decoding after a seek failed ({type(exc).__name__})") from None  # no path: logged
            if f is None:
                return
            yield f
    finally:
        frames.close()  # type: ignore[attr-defined]  # the chunk's container, also when a worker halts


def _track_chunk(session: VideoSource, plan: SamplePlan, span: tuple[int, int], rows: int,
                 config: AnalysisConfig, make_tracker: Callable[[], Any], stage: AffectStage,
                 out: queue.Queue[Any], halt: threading.Event) -> None:
    """Worker: decode, track, measure and run the emotion model on sampled frames ``span``."""
    def until_halted() -> Iterator[SampledFrame]:
        for f in _decoded(session, plan, *span):
            if halt.is_set():
                return
            yield f

    pairs = track_frames(until_halted(), make_tracker)  # fresh per chunk, as the sequential engine restarts it
    try:
        frames: list[SampledFrame] = []
        obs: list[FaceObservation] = []

        def emit() -> None:
            cols = frame_columns(frames, obs, config)  # also sets EXTREME_POSE, before the usable test
            out.put((cols, stage.emotions([f.rgb for f in frames], obs)))
            frames.clear()  # the RGB frames go here
            obs.clear()

        for f, o in pairs:
            frames.append(f)
            obs.append(o)
            if len(frames) >= rows:
                emit()
        if frames and not halt.is_set():
            emit()
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there in order
        out.put(exc)
    finally:
        pairs.close()  # closes the chunk's tracker
        out.put(_END)


class ThreadedChunkEngine:
    """Restart chunks tracked by ``workers`` threads; blocks reach the sink in time order.

    Raises :class:`~facelens.core.analysis.chunks.ChunkMismatch` when seek decoding disagrees with
    the plan (the rows written so far are correct; the pipeline goes on sequentially).
    """

    name = "threaded-chunks"

    def __init__(self, config: AnalysisConfig, make_tracker: Callable[[], Any], plan: SamplePlan,
                 workers: int) -> None:
        self.config, self.make_tracker, self.plan, self.workers = config, make_tracker, plan, workers

    def run(self, session: MediaSource, sink: OrderedSink) -> Iterator[Progress]:
        if not isinstance(session, VideoSource):  # chunks seek in a video file; stills never get here
            raise TypeError("chunk-parallel analysis needs a video file")
        cfg, plan = self.config, self.plan
        if sink.n_done % cfg.restart_every:
            raise ValueError("chunk-parallel analysis starts at a restart point")
        chunks = plan.chunks(cfg.restart_every, sink.n_done // cfg.restart_every)
        sink.total = max(plan.n_sampled, sink.n_done)
        rows = block_rows(session, cfg.batch_size)
        window = 2 * max(1, self.workers)  # chunks in flight or waiting: the memory bound (module docstring)
        halt = threading.Event()
        pool = ThreadPoolExecutor(max_workers=max(1, self.workers), thread_name_prefix="facelens-chunk")
        queues: dict[int, queue.Queue[Any]] = {}
        futures: list[Future] = []
        submitted = 0

        def fill(consuming: int) -> None:
            nonlocal submitted
            while submitted < len(chunks) and submitted < consuming + window:
                q: queue.Queue[Any] = queue.Queue()
                queues[submitted] = q
                futures.append(pool.submit(_track_chunk, session, plan, chunks[submitted], rows, cfg,
                                           self.make_tracker, sink.stage, q, halt))
                submitted += 1

        try:
            for k in range(len(chunks)):
                fill(k)
                blocks = queues.pop(k)
                while (item := blocks.get()) is not _END:
                    if isinstance(item, BaseException):
                        raise item
                    cols, emotions = item
                    yield sink.write(cols, emotions)
                    sink.checkpoint()
        finally:
            halt.set()  # workers stop at their next frame; queued chunks are not started
            pool.shutdown(wait=True, cancel_futures=True)
