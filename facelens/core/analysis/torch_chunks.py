"""The pipeline's chunk-parallel loop for ``--backend torch``: B restart chunks tracked side by side.

:class:`TorchBatchedEngine` is chosen by :func:`facelens.core.analysis.engines.choose_engine`. Chunks (the
pipeline's ``restart_every`` sampled frames between tracker restarts) are taken in groups of
``parallel``; :class:`facelens.core.analysis.chunks.ChunkFeeder` decodes a group's chunks concurrently
and step ``t`` tracks frame ``t`` of every chunk in one batch
(:meth:`TorchFaceTracker.process_streams`), each chunk from its own previous frame. Geometry and
the emotion model run on the same step batch (they are per frame, no state), then the RGB frames
are dropped.

Valence/arousal are not per frame: the estimator keeps a running baseline and a smoother and must
see frames in time order. So rows wait per chunk and go to the affect stage + writer (one worker
thread, FIFO) in time order: the group's first chunk streams as it goes (nothing earlier is
unwritten), the others are flushed when the group ends. The emotion model (the affect stage's
stateless part) runs on the step batch; its rows are regrouped with the columns into the sink's
blocks, where the stateful part (valence/arousal) sees them in time order.

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

import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from facelens.core.affect.stage import FrameEmotions
from facelens.core.analysis.chunks import ChunkFeeder, SamplePlan, default_threads
from facelens.core.analysis.contract import AnalysisConfig
from facelens.core.analysis.frame_columns import frame_columns
from facelens.core.analysis.sink import OrderedSink
from facelens.core.common.types import Progress
from facelens.core.media.video import VideoSource

_log = logging.getLogger(__name__)
Row = tuple[dict[str, np.ndarray], FrameEmotions]  # one frame: columns (1, ...), emotion output (1 row)


class TorchBatchedEngine:
    """``parallel`` restart chunks per batch step through one torch tracker (CUDA when present).

    Raises :class:`~facelens.core.analysis.chunks.ChunkMismatch` when seek decoding disagrees with
    the plan (the rows written so far are correct; the pipeline goes on sequentially).
    """

    name = "torch-batched"

    def __init__(self, config: AnalysisConfig, tracker: Any, plan: SamplePlan, parallel: int) -> None:
        self.config, self.tracker, self.plan, self.parallel = config, tracker, plan, max(1, parallel)

    def run(self, session: VideoSource, sink: OrderedSink) -> Iterator[Progress]:
        cfg, plan, parallel, tracker = self.config, self.plan, self.parallel, self.tracker
        if sink.n_done % cfg.restart_every:
            raise ValueError("chunk-parallel analysis starts at a restart point")
        chunks = plan.chunks(cfg.restart_every, sink.n_done // cfg.restart_every)
        sink.total = max(plan.n_sampled, sink.n_done)
        rows = max(1, min(cfg.batch_size, cfg.restart_every))
        # one group's worth of blocks may wait for the writer while the next group is tracked
        max_pending = parallel * -(-cfg.restart_every // rows)

        def flush(block: list[Row]) -> Progress:
            cols = {k: np.concatenate([r[0][k] for r in block]) for k in block[0][0]}
            return sink.write(cols, FrameEmotions.concat([r[1] for r in block]))

        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="facelens-affect")
        pending: deque[Future] = deque()

        def submit(block: list[Row]) -> None:
            if block:
                pending.append(worker.submit(flush, block))

        def drain(wait_all: bool) -> Iterator[Progress]:
            while pending and (wait_all or pending[0].done() or len(pending) > max_pending):
                yield pending.popleft().result()
                sink.checkpoint()

        try:
            for g in range(0, len(chunks), parallel):
                group = chunks[g:g + parallel]
                buf: list[list[Row]] = [[] for _ in group]
                states: list[Any] = [None] * len(group)
                with ChunkFeeder(session, plan, group, cfg.decode_threads or default_threads(len(group))) as feeder:
                    for step in feeder:
                        pos = [c for c, _ in step]
                        frames = [f for _, f in step]
                        obs, new = tracker.process_streams([f.rgb for f in frames], [states[c] for c in pos])
                        cols = frame_columns(frames, obs, cfg)  # also sets EXTREME_POSE, before the usable test
                        emo = sink.stage.emotions([f.rgb for f in frames], obs)
                        for j, c in enumerate(pos):
                            states[c] = new[j]
                            buf[c].append(({k: v[j:j + 1] for k, v in cols.items()}, emo.rows(j, j + 1)))
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
