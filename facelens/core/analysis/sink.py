"""The one ordered sink every engine writes through: valence/arousal -> write -> progress -> cancel.

Engines may track and run the emotion model anywhere (threads, batches across chunks), but blocks
reach the sink in time order, one at a time: the valence/arousal estimator keeps state from frame to
frame (baseline, smoothing), so its order is the session's order whatever the engine.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from facelens.core.affect.stage import AffectStage, FrameEmotions
from facelens.core.analysis.contract import AnalysisCancelled
from facelens.core.common.types import Progress
from facelens.core.results import ResultsWriter


class OrderedSink:
    """Takes blocks in time order and writes them; ``total`` is the expected number of frames."""

    def __init__(self, stage: AffectStage, writer: ResultsWriter, total: int,
                 cancel: Callable[[], bool] | None = None, recon: Any = None) -> None:
        self.stage, self.writer, self.total, self._cancel = stage, writer, total, cancel
        self.recon = recon  # a ReconStage (core.analysis.recon_stage): the morphable fit, in time order
        self.start_done, self._t0 = writer.n_done, time.perf_counter()

    @property
    def n_done(self) -> int:
        return self.writer.n_done

    def write(self, cols: dict[str, np.ndarray], emotions: FrameEmotions) -> Progress:
        """Add the morphable fit and valence/arousal to the block's columns, append them, and say how
        far the run is."""
        if self.recon is not None:
            cols.update(self.recon.columns(cols))
        cols.update(self.stage.valence_arousal(emotions, cols["expressions"], cols["time_s"],
                                               coef=cols.get("coef_exp")))
        self.writer.append(cols)
        return self.progress(cols)

    def progress(self, cols: dict[str, np.ndarray]) -> Progress:
        done = self.writer.n_done
        self.total = max(self.total, done)
        rate = (done - self.start_done) / max(time.perf_counter() - self._t0, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        return Progress(done=done, total=self.total, rate=rate, eta_s=eta, message="analysing", partial=cols)

    def checkpoint(self) -> None:
        """Called by the engines after each progress they yield: stop here when asked to."""
        if self._cancel is not None and self._cancel():
            raise AnalysisCancelled(self.writer.partial, self.writer.n_done)
