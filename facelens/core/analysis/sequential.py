"""The sequential engine: one decoder thread, the tracker frame by frame, affect + writing overlapped.

The reference engine: the others must give the same arrays (``benchmarks/result_digests.py``).
Batches never cross a restart point and the tracker restarts (fresh detection) at each one, so
batches before and after a resume line up and a resumed run equals an uninterrupted one.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from facelens.core.analysis.contract import AnalysisConfig
from facelens.core.analysis.frame_columns import frame_columns
from facelens.core.analysis.sink import OrderedSink
from facelens.core.analysis.trackers import track_frames
from facelens.core.common.types import FaceObservation, Progress, SampledFrame
from facelens.core.media.video import MediaSource

QUEUE_BYTES = 192 * 2**20  # decoded frames waiting for the tracker, at most
BATCH_BYTES = 256 * 2**20  # RGB frames of one batch (the affect stage needs whole frames)


def block_rows(session: MediaSource, batch_size: int) -> int:
    """Frames per block: ``batch_size``, fewer for huge frames (the RGB of one block is bounded)."""
    return max(1, min(batch_size, BATCH_BYTES // max(1, session.info.width * session.info.height * 3)))


class _Decoder:
    """Decode in a thread into a bounded queue; iterate to get frames; ``stop()`` to abandon."""

    _END = object()

    def __init__(self, session: MediaSource, fps: float, start_index: int) -> None:
        frame_bytes = max(1, session.info.width * session.info.height * 3)
        self._q: queue.Queue[Any] = queue.Queue(maxsize=int(np.clip(QUEUE_BYTES // frame_bytes, 2, 64)))
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

    def _run(self, session: MediaSource, fps: float, start_index: int) -> None:
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


def _write_block(sink: OrderedSink, stage: Any, cols: dict[str, np.ndarray], frames: list[SampledFrame],
                 obs: list[FaceObservation]) -> Progress:
    """One block's emotions, then its write (on the affect worker thread)."""
    return sink.write(cols, stage.emotions([f.rgb for f in frames], obs))


def _blocks(pairs: Iterator[tuple[SampledFrame, FaceObservation]], size: int, restart_every: int
            ) -> Iterator[list[tuple[SampledFrame, FaceObservation]]]:
    """(frame, observation) pairs cut into blocks of ``size`` that never span a restart point."""
    block: list[tuple[SampledFrame, FaceObservation]] = []
    for pair in pairs:
        block.append(pair)
        if len(block) >= size or (pair[0].index + 1) % restart_every == 0:
            yield block
            block = []
    if block:
        yield block


class SequentialEngine:
    """Track block k+1 in this thread while a worker runs affect + writing for block k.

    Only one worker thread touches the sink, in block order, so results do not depend on the
    overlap; it keeps both cores busy (torch and mediapipe release the GIL).
    """

    name = "sequential"

    def __init__(self, config: AnalysisConfig, make_tracker: Any) -> None:
        self.config, self.make_tracker = config, make_tracker

    def run(self, session: MediaSource, sink: OrderedSink) -> Iterator[Progress]:
        cfg = self.config
        sink.total = max(sink.total, session.n_sampled(cfg.fps))
        stage = sink.stage
        decoder = _Decoder(session, cfg.fps, sink.n_done)
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facelens-affect")
        pending: Future | None = None
        # frame by frame: mediapipe's tracking rule exactly (the torch tracker's fixed-point
        # process_batch is close but not identical; the torch engine batches across chunks), with
        # fresh detection at every restart point (a resume starts at one)
        pairs = track_frames(iter(decoder), self.make_tracker, cfg.restart_every)
        try:
            for block in _blocks(pairs, block_rows(session, cfg.batch_size), cfg.restart_every):
                frames, obs = [f for f, _ in block], [o for _, o in block]
                cols = frame_columns(frames, obs, cfg)
                if pending is not None:
                    yield pending.result()
                    pending = None
                    sink.checkpoint()
                pending = worker.submit(_write_block, sink, stage, cols, frames, obs)
            if pending is not None:
                yield pending.result()
                pending = None
                sink.checkpoint()
        finally:
            if pending is not None:
                try:
                    pending.result()  # never close the writer under a block being written
                except BaseException:
                    pass
            worker.shutdown(wait=True)
            decoder.stop()
            pairs.close()  # closes the tracker
