"""The pipeline's chunk-parallel loop for ``--backend torch``: B restart chunks tracked side by side.

:func:`run_chunked` is called by :func:`facelens.core.analysis.pipeline.run_analysis`. Chunks (the
pipeline's ``restart_every`` sampled frames between tracker restarts) are taken in groups of
``parallel``; :class:`facelens.core.analysis.chunks.ChunkFeeder` decodes a group's chunks concurrently
and step ``t`` tracks frame ``t`` of every chunk in one batch
(:meth:`TorchFaceTracker.process_streams`), each chunk from its own previous frame. Geometry and
the emotion model run on the same step batch (they are per frame, no state), then the RGB frames
are dropped.

Valence/arousal are not per frame: the estimator keeps a running baseline and a smoother and must
see frames in time order. So rows wait per chunk and go to the affect stage + writer (one worker
thread, FIFO) in time order: the group's first chunk streams as it goes (nothing earlier is
unwritten), the others are flushed when the group ends. The affect stage is driven through a
shallow copy whose emotion model returns the probabilities already computed at the step
(:class:`facelens.core.affect.precomputed.PrecomputedEmotions`), so its state (``va``, the direct-VA smoother) is the pipeline's own and
its logic (usable mask, fusion, smoothing) is untouched.

Memory bound
------------
A buffered row holds no image: landmarks (478 x 3 float32, 5.7 KB), the other columns (~0.2 KB)
and 7 emotion probabilities; about 6 KB. At most the running group's rows (``parallel *
restart_every``) plus one group's worth queued for the writer are held, i.e. about
``6 KB * restart_every * 2 * parallel``: 115 MB at the defaults (32 chunks of 300 frames), 920 MB
at 256 chunks (lower ``parallel`` on a small machine). Decoded frames waiting in the feeder are bounded separately
(:data:`facelens.core.analysis.chunks.DECODE_BUDGET_BYTES`, at least one frame per chunk).
"""
from __future__ import annotations

import copy
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from facelens.core.affect.precomputed import PrecomputedEmotions, emotions_for_usable_faces
from facelens.core.analysis.chunks import ChunkFeeder, SamplePlan, default_threads
from facelens.core.common.types import FaceObservation, Progress
from facelens.core.media.video import VideoSession

_log = logging.getLogger(__name__)
Row = tuple[dict[str, np.ndarray], FaceObservation, Any]  # one frame: columns (1, ...), obs, emotion output


def run_chunked(session: VideoSession, plan: SamplePlan, tracker: Any, stage: Any, writer: Any, *,
                restart_every: int, parallel: int, rows: int, threads: int | None = None,
                cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
    """Track, measure and write the chunks from ``writer.n_done`` (a restart point) to the end.

    Yields a :class:`Progress` after each block of rows written. Does not finish the writer.

    Raises
    ------
    facelens.core.analysis.chunks.ChunkMismatch
        Seek decoding disagreed with the plan; rows written so far are correct and the caller may
        go on sequentially from the last restart point.
    facelens.core.analysis.pipeline.AnalysisCancelled
        ``cancel()`` returned True.
    """
    from facelens.core.analysis.pipeline import AnalysisCancelled, _columns

    if writer.n_done % restart_every:
        raise ValueError("chunk-parallel analysis starts at a restart point")
    chunks = plan.chunks(restart_every, writer.n_done // restart_every)
    replay = copy.copy(stage)  # shares the estimator state; only the emotion model is swapped
    replay.emotion_model = None if stage.emotion_model is None else PrecomputedEmotions(stage.emotion_model)
    start_done, t0 = writer.n_done, time.perf_counter()
    # one group's worth of blocks may wait for the writer while the next group is tracked
    max_pending = max(1, parallel) * -(-restart_every // max(1, rows))

    def flush(block: list[Row]) -> tuple[dict[str, np.ndarray], int]:
        cols = {k: np.concatenate([r[0][k] for r in block]) for k in block[0][0]}
        cols.update(replay.process([r[2] for r in block], [r[1] for r in block], cols["expressions"],
                                   cols["time_s"]))
        writer.append(cols)
        return cols, writer.n_done

    def report(result: tuple[dict[str, np.ndarray], int]) -> Progress:
        cols, done = result
        rate = (done - start_done) / max(time.perf_counter() - t0, 1e-9)
        total = max(plan.n_sampled, done)
        eta = (total - done) / rate if rate > 0 else float("nan")
        return Progress(done=done, total=total, rate=rate, eta_s=eta, message="analysing", partial=cols)

    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facelens-affect")
    pending: deque[Future] = deque()

    def submit(block: list[Row]) -> None:
        if block:
            pending.append(worker.submit(flush, block))

    def drain(wait_all: bool) -> Iterator[Progress]:
        while pending and (wait_all or pending[0].done() or len(pending) > max_pending):
            yield report(pending.popleft().result())
            if cancel is not None and cancel():
                raise AnalysisCancelled(writer.partial, writer.n_done)

    try:
        for g in range(0, len(chunks), max(1, parallel)):
            group = chunks[g:g + parallel]
            buf: list[list[Row]] = [[] for _ in group]
            states: list[Any] = [None] * len(group)
            with ChunkFeeder(session, plan, group, threads or default_threads(len(group))) as feeder:
                for step in feeder:
                    pos = [c for c, _ in step]
                    frames = [f for _, f in step]
                    obs, new = tracker.process_streams([f.rgb for f in frames], [states[c] for c in pos])
                    cols = _columns(frames, obs)  # also sets EXTREME_POSE, before the usable test
                    emo = emotions_for_usable_faces(stage.emotion_model, frames, obs)
                    for j, c in enumerate(pos):
                        states[c] = new[j]
                        obs[j].landmarks = None  # kept in the columns; the stage reads quality + bbox
                        buf[c].append(({k: v[j:j + 1] for k, v in cols.items()}, obs[j], emo[j]))
                    if len(buf[0]) >= rows:  # the group's first chunk: nothing earlier is unwritten
                        submit(buf[0][:rows])
                        del buf[0][:rows]
                    yield from drain(False)
            for b in buf:  # the group ends: its chunks, in time order
                for i in range(0, len(b), rows):
                    submit(b[i:i + rows])
            yield from drain(False)
        yield from drain(True)
    finally:
        for f in pending:
            try:
                f.result()  # never close the writer under a block being written
            except BaseException as exc:  # noqa: BLE001 - the first error is already propagating
                _log.debug("block abandoned: %s", exc)
        worker.shutdown(wait=True)
