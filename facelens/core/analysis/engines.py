"""The one place that chooses how a session is analysed (the engines give identical results).

* :class:`~facelens.core.analysis.sequential.SequentialEngine`: the reference; images, odd files, a
  single chunk left, ``workers=1`` or ``parallel_chunks=0``.
* :class:`~facelens.core.analysis.chunk_threads.ThreadedChunkEngine`: mediapipe on CPU with more
  than one worker, restart chunks tracked side by side in threads.
* :class:`~facelens.core.analysis.torch_chunks.TorchBatchedEngine`: the torch backend, restart chunks
  batched through one tracker (CUDA when present).

Every engine has ``name`` and ``run(session, sink) -> Iterator[Progress]``, starts at the sink's
``n_done`` (a restart point) and writes through the :class:`~facelens.core.analysis.sink.OrderedSink`.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from facelens.core.analysis.contract import AnalysisConfig
from facelens.core.analysis.sequential import SequentialEngine
from facelens.core.analysis.sink import OrderedSink
from facelens.core.common.types import Progress
from facelens.core.media.video import MediaSource

_log = logging.getLogger(__name__)


class Engine(Protocol):
    name: str

    def run(self, session: MediaSource, sink: OrderedSink) -> Iterator[Progress]: ...


def default_workers() -> int:
    """Chunk worker threads for the mediapipe backend: one per core, at most 2.

    Each worker holds its own mediapipe graphs and decoder (peak RSS about 170 MB above the
    sequential run with 2 workers, measured; see :mod:`facelens.core.analysis.chunk_threads`); more
    threads than cores would only compete for the GIL and the cores.
    """
    return max(1, min(2, os.cpu_count() or 1))


def n_workers(config: AnalysisConfig) -> int:
    """Worker threads the configuration asks for (1 for the torch backend)."""
    return (config.workers or default_workers()) if config.backend == "mediapipe" else 1


def choose_engine(config: AnalysisConfig, session: MediaSource, start: int, device: str,
                  new_tracker: Callable[[], Any]) -> Engine:
    """The engine for this session from frame ``start`` (a restart point) on."""
    sequential = SequentialEngine(config, new_tracker)
    workers = n_workers(config)
    parallel = config.batch_size if config.parallel_chunks is None else config.parallel_chunks
    wants_parallel = (config.backend == "torch" and parallel > 0) or (config.backend == "mediapipe" and workers > 1)
    if not wants_parallel or session.info.is_image:
        return sequential
    from facelens.core.analysis.chunks import plan_samples

    plan = plan_samples(session, config.fps)
    left = [] if plan is None else plan.chunks(config.restart_every, start // config.restart_every)
    if plan is None or (config.backend == "mediapipe" and len(left) < 2):
        # no plan (odd files), or a single chunk left: nothing to run side by side
        _log.info("decoding sequentially (no seek plan or one chunk left)")  # no file names in logs: privacy
        return sequential
    if config.backend == "mediapipe":
        from facelens.core.analysis.chunk_threads import ThreadedChunkEngine

        return ThreadedChunkEngine(config, new_tracker, plan, workers)
    from facelens.core.analysis.torch_chunks import TorchBatchedEngine

    tracker = new_tracker()
    if not hasattr(tracker, "process_streams"):
        tracker.close()
        return sequential
    return _ClosingEngine(TorchBatchedEngine(config, tracker, plan, parallel), tracker)


class _ClosingEngine:
    """Closes the tracker an engine was given when its run ends."""

    def __init__(self, engine: Any, tracker: Any) -> None:
        self._engine, self._tracker, self.name = engine, tracker, engine.name

    def run(self, session: MediaSource, sink: OrderedSink) -> Iterator[Progress]:
        try:
            yield from self._engine.run(session, sink)
        finally:
            self._tracker.close()
