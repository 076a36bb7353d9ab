"""The analysis pipeline: video -> sampled frames -> face track -> geometry -> affect -> results file.

:func:`run_analysis` is a generator that yields a :class:`~facelens.core.common.types.Progress` after
each batch (``partial`` holds the batch's columns, so a GUI can draw while it runs) and checks a
cancel callback there. The same generator drives the CLI, the GUI worker and the tests;
:func:`analyze_to_file` drains it.

How the frames are processed is an engine's job (:mod:`facelens.core.analysis.engines` chooses one:
sequential, threaded chunks or torch-batched chunks; all write through one ordered sink and give
the same arrays). Memory stays bounded whatever the video's length because frames are dropped
once their block is written.

Exact resumption. Results depend on state carried from frame to frame: mediapipe tracks the face
from the previous frame's mesh, and the valence/arousal estimator keeps a running baseline and a
smoother. So that an interrupted run, resumed, gives the same arrays as an uninterrupted one:

* the tracker restarts (fresh detection) every :data:`RESTART_EVERY` sampled frames, and a resume
  starts at the last such restart point (frames after it are recomputed);
* the valence/arousal state is rebuilt by replaying the stored emotions and expression measures
  of the frames already on disk (the stored float32 values are exactly what the estimator saw),
  read by the results package's reader (:func:`facelens.core.results.stored_affect_inputs`);
* the session pass (:mod:`facelens.core.analysis.session_pass`), run once every frame is written,
  recomputes the morphable fit against the whole session's identity (and, with G, G's outputs) from
  stored columns only.

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
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from facelens.core.affect.choice import DEFAULT_ESTIMATOR
from facelens.core.analysis.contract import AnalysisCancelled, AnalysisConfig, PipelineError
from facelens.core.analysis.engines import choose_engine, default_workers, n_workers
from facelens.core.analysis.sequential import SequentialEngine
from facelens.core.analysis.session_pass import needed, run_session_pass
from facelens.core.analysis.sink import OrderedSink
from facelens.core.analysis.trackers import TorchThreads, make_tracker, resolve_device, tracker_cards
from facelens.core.common.types import Progress
from facelens.core.media.video import MediaSource, open_media
from facelens.core.results import ResultsError, ResultsWriter, partial_path, stored_affect_inputs

__all__ = ["AnalysisCancelled", "AnalysisConfig", "PipelineError", "analyze_to_file", "default_workers",
           "resolve_device", "run_analysis", "run_session"]
_log = logging.getLogger(__name__)


def run_analysis(video: str | Path, out: str | Path, *, fps: float = 10.0, device: str = "auto",
                 backend: str = "mediapipe", resume: bool = False, batch_size: int = 32,
                 cancel: Callable[[], bool] | None = None, demo: bool = False,
                 parallel_chunks: int | None = None, decode_threads: int | None = None,
                 workers: int | None = None, restart_every: int = AnalysisConfig.restart_every,
                 config: AnalysisConfig | None = None, va: str = DEFAULT_ESTIMATOR,
                 reconstruction: str = "fit") -> Iterator[Progress]:
    """Analyse ``video`` into the results file ``out``, yielding progress after each block.

    The keyword options build an :class:`AnalysisConfig` (or pass ``config``; it wins). None of the
    engine options (``workers``, ``parallel_chunks``, ``decode_threads``) changes the results.

    Raises
    ------
    facelens.core.media.video.VideoError
        Unusable input (before anything is written).
    PipelineError, facelens.core.registry.ModelError, ResultsError
        Bad options, missing model weights, an unusable partial file to resume.
    AnalysisCancelled
        ``cancel()`` returned True; ``OUT.partial`` is left for ``resume=True``.
    """
    if config is None:
        config = AnalysisConfig(fps=fps, backend=backend, device=device, batch_size=batch_size,
                                restart_every=restart_every, workers=workers, parallel_chunks=parallel_chunks,
                                decode_threads=decode_threads, va=va, reconstruction=reconstruction)
    config.check()
    session = open_media(video)  # VideoError for unusable input, before any file is touched
    try:
        yield from run_session(session, Path(out), config, resume=resume, cancel=cancel, demo=demo)
    finally:
        session.close()


def _metadata(session: MediaSource, config: AnalysisConfig, device: str, stage: Any, demo: bool
              ) -> dict[str, Any]:
    from facelens import __version__
    from facelens.core.common.hashing import sha256_file
    from facelens.core.face.tracking import gate_settings

    info = session.info
    params = {"fps": config.fps, "device": device, "device_requested": config.device, "backend": config.backend,
              "batch_size": config.batch_size, "tracker_restart_every": config.restart_every,
              "workers": n_workers(config), "max_yaw_deg": config.max_yaw_deg,
              "max_pitch_deg": config.max_pitch_deg, **gate_settings()}
    return {"video_path": str(Path(info.path).resolve()), "video_sha256": sha256_file(info.path),
            "duration_s": info.duration_s, "native_fps": info.native_fps, "width": info.width,
            "height": info.height, "rotation_deg": info.rotation_deg, "codec": info.codec,
            "is_image": info.is_image, "facelens_version": __version__, "demo": bool(demo),
            "params": params, "models": tracker_cards(config, device) + stage.model_cards(),
            "notices": list(getattr(stage, "notices", []))}


def run_session(session: MediaSource, out: Path, config: AnalysisConfig, *, resume: bool = False,
                cancel: Callable[[], bool] | None = None, demo: bool = False) -> Iterator[Progress]:
    """:func:`run_analysis` on an open session (the caller closes it)."""
    from facelens.core.affect.stage import AffectStage
    from facelens.core.face.geometry import EXPRESSION_NAMES

    used = resolve_device(config.device)
    static = session.info.is_image
    stage = AffectStage.default(device=used, va=config.va)
    recon = _reconstruction(config.reconstruction, used)  # the fit, or AsmV2L (ModelError if missing)
    if stage.g is not None and recon.coef_sizes is not None:
        from facelens.core.affect.g_runtime import GModelError

        try:
            stage.g.check_coefficients(recon.coef_sizes[0])
        except GModelError as exc:
            raise PipelineError(str(exc)) from None
    # both backends' trackers are built with tracking's defaults (the one owner of the quality thresholds)
    meta = _metadata(session, config, used, stage, demo)
    meta["models"].append(recon.card())
    meta["va_estimator"] = stage.va_kind
    meta["appearance_preprocessing"] = stage.appearance_preprocessing
    meta["reconstruction"] = config.reconstruction
    resume = resume and partial_path(out).exists()
    writer = ResultsWriter(out, meta, expression_names=EXPRESSION_NAMES, emotion_labels=stage.emotion_labels,
                           resume=resume, expect_frames=session.n_sampled(config.fps),  # refused if the disk is too small
                           coef_sizes=recon.coef_sizes, appearance=stage.va_kind == "g")
    # While streaming, only G needs the fit (its provisional values); with the circumplex estimator the
    # session pass writes the fit's columns once, from the stored meshes (no fit per frame twice).
    streaming_recon = recon if stage.g is not None or not needed(recon) else None
    try:
        _to_restart_point(writer, config)
        _warm_up(stage, out, writer.n_done, streaming_recon)
        with TorchThreads(used):
            t0, start_done = time.perf_counter(), writer.n_done
            sink = OrderedSink(stage, writer, session.n_sampled(config.fps), cancel, recon=streaming_recon)
            new_tracker = lambda: make_tracker(config, used, static)  # noqa: E731
            engine = choose_engine(config, session, writer.n_done, used, new_tracker)
            yield from _run_with_fallback(engine, session, sink, config, out, new_tracker)
            if writer.n_done and needed(recon):
                yield from run_session_pass(writer, recon, stage.g, cancel=sink.checkpoint)
            yield from _finish(session, writer, t0, start_done)
    except BaseException:
        writer.close()  # leaves OUT.partial (resumable); never OUT itself
        raise


def _reconstruction(spec: str, device: str) -> Any:
    """The per-frame reconstruction stage; torch (AsmV2L) is imported only when it is asked for."""
    if spec == "fit":
        from facelens.core.analysis.recon_stage import ReconStage
        from facelens.core.common.devices import array_backend_device

        return ReconStage(device=array_backend_device(device))
    from facelens.core.analysis.asmv2l_stage import reconstruction_stage

    return reconstruction_stage(spec, device=device)


def _to_restart_point(writer: ResultsWriter, config: AnalysisConfig) -> None:
    if writer.n_done % config.restart_every:
        writer.truncate(writer.n_done - writer.n_done % config.restart_every)


def _warm_up(stage: Any, out: Path, n: int, recon: Any = None) -> None:
    """Rebuild the morphable fit's and the valence/arousal estimator's state from the first ``n`` stored frames."""
    if recon is not None:
        recon.warm_up(partial_path(out), n)
    if n == 0 or stage.uses_model_va:
        return  # model-given VA is smoothed over 0.3 s only; nothing long-lived to rebuild
    stored = stored_affect_inputs(partial_path(out), n)
    stage.warm_up(stored["emotions"], stored["expressions"], stored["time_s"], stored["quality"],
                  coef=stored["coef_exp"], appearance=stored["emotions_appearance"])


def _run_with_fallback(engine: Any, session: MediaSource, sink: OrderedSink, config: AnalysisConfig, out: Path,
                       new_tracker: Callable[[], Any]) -> Iterator[Progress]:
    """Run ``engine``; if seek decoding disagrees, go on sequentially from the last restart point."""
    from facelens.core.analysis.chunks import ChunkMismatch

    try:
        yield from engine.run(session, sink)
    except ChunkMismatch as exc:
        _log.warning("seek decoding differs from sequential decoding (%s); going on sequentially", exc)
        _to_restart_point(sink.writer, config)
        sink.stage.reset()
        _warm_up(sink.stage, out, sink.n_done, sink.recon)
        yield from SequentialEngine(config, new_tracker).run(session, sink)


def _finish(session: MediaSource, writer: ResultsWriter, t0: float, start_done: int) -> Iterator[Progress]:
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
