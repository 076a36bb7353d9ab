"""What every analysis engine shares: the configuration, the cancel exception and the option error.

A leaf of :mod:`facelens.core.analysis` (imports nothing else from it), so the engines, the
pipeline and callers (CLI, GUI child, batch, validation) import these names from one place.
:class:`~facelens.core.common.types.Progress` is what the engines yield.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from facelens.core.affect.choice import DEFAULT_ESTIMATOR, ESTIMATORS
from facelens.core.common.types import Progress
from facelens.core.face.geometry import MAX_PITCH_DEG, MAX_YAW_DEG

__all__ = ["AnalysisCancelled", "AnalysisConfig", "PipelineError", "Progress"]


class AnalysisCancelled(Exception):
    """The cancel callback asked to stop; ``partial`` is the resumable file left behind."""

    def __init__(self, partial: Path, done: int) -> None:
        super().__init__(f"analysis cancelled after {done} frames; resume with the same output and --resume")
        self.partial = partial
        self.done = done


class PipelineError(Exception):
    """The analysis cannot run with these options (one-line message)."""


@dataclass(frozen=True)
class AnalysisConfig:
    """How one session is analysed. None of the engine options changes the results.

    Attributes
    ----------
    fps
        Sampled frames per second (the seed paper's protocol: 10).
    backend
        ``mediapipe`` (CPU, frame by frame) or ``torch`` (the same models batched, CUDA when present).
    device
        ``auto``, ``cpu`` or ``cuda``.
    batch_size
        Frames per block handed to the affect stage and the writer.
    restart_every
        Sampled frames between tracker restarts (fresh detection): the resume points, and the
        chunks that the parallel engines run side by side (300 = 30 s at 10 fps).
    max_yaw_deg, max_pitch_deg
        Head-pose limits of a usable frame (owner: :mod:`facelens.core.face.geometry`).
    workers
        mediapipe backend: threads tracking restart chunks side by side (None: one per core, at most 2;
        1: sequential).
    parallel_chunks
        torch backend: restart chunks tracked in one batch step (None: ``batch_size``; 0: sequential).
    decode_threads
        torch backend: decoder threads for those chunks (None: one per chunk, at most one per core).
    va
        Valence/arousal/emotion estimator: ``circumplex`` (FER2013 fused with geometry on the
        circumplex) or ``g`` (the temporal regressor G over the morphable model's coefficients).
        This one does change the results (the file records it as ``va_estimator``).
    reconstruction
        Who gives the per-frame morphable-model coefficients: ``fit`` (the closed-form fit of the
        tracked mesh) or ``asmv2l`` / ``asmv2l:CHECKPOINT`` (the AsmV2L network, the registry's shipped
        weights by default). Changes the coefficients (the file records it as ``reconstruction``).
    """

    fps: float = 10.0
    backend: str = "mediapipe"
    device: str = "auto"
    batch_size: int = 32
    restart_every: int = 300
    max_yaw_deg: float = MAX_YAW_DEG
    max_pitch_deg: float = MAX_PITCH_DEG
    workers: int | None = None
    parallel_chunks: int | None = None
    decode_threads: int | None = None
    va: str = DEFAULT_ESTIMATOR
    reconstruction: str = "fit"

    def check(self) -> None:
        """Raise :class:`PipelineError` for options no engine can run."""
        if not self.fps > 0 or self.batch_size < 1 or self.restart_every < 1:
            raise PipelineError("fps, batch size and restart interval must be positive")
        if (self.parallel_chunks is not None and self.parallel_chunks < 0) or (
                self.decode_threads is not None and self.decode_threads < 1):
            raise PipelineError("parallel chunks must be >= 0 and decode threads >= 1")
        if self.workers is not None and self.workers < 1:
            raise PipelineError("workers must be >= 1")
        if self.va not in ESTIMATORS:
            raise PipelineError(f"unknown valence/arousal estimator {self.va!r} (use circumplex or g)")
        if not (self.reconstruction == "fit" or self.reconstruction.split(":", 1)[0] == "asmv2l"):
            raise PipelineError(f"unknown reconstruction {self.reconstruction!r} (use fit, asmv2l or asmv2l:CHECKPOINT)")
        if self.backend not in ("mediapipe", "torch"):
            raise PipelineError(f"unknown backend {self.backend!r} (use mediapipe or torch)")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
