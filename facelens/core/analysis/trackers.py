"""Which device and which face tracker an analysis uses, the cards of their models, and the per-frame
tracking loop (frames -> observations, restarted at the analysis's restart points)."""
from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import Any

from facelens.core.analysis.contract import AnalysisConfig, PipelineError
from facelens.core.common import devices
from facelens.core.common.types import FaceObservation, SampledFrame


def resolve_device(device: str) -> str:
    """The analysis device (:func:`facelens.core.common.devices.resolve_device`); ``PipelineError`` when unusable."""
    try:
        return devices.resolve_device(device)
    except devices.DeviceError as exc:
        raise PipelineError(str(exc)) from None


def make_tracker(config: AnalysisConfig, device: str, static: bool) -> Any:
    """A fresh tracker (no state from earlier frames) of the configured backend."""
    if config.backend == "mediapipe":
        from facelens.core.face.tracking import FaceTracker

        return FaceTracker(static=static)
    try:
        from facelens.core.face.torchface.tracker import TorchFaceTracker
    except ImportError as exc:
        raise PipelineError(f"the torch face-tracking backend is not available ({exc})") from None
    return TorchFaceTracker(device=device, static=static) if static else TorchFaceTracker(device=device)


def track_frames(frames: Iterable[SampledFrame], new_tracker: Callable[[], Any], restart_every: int | None = None
                 ) -> Generator[tuple[SampledFrame, FaceObservation], None, None]:
    """Each frame in time order with its observation from one tracker (``new_tracker()``, frame by frame).

    With ``restart_every`` the tracker is replaced by a fresh one (new detection, no state from earlier
    frames) at every frame whose sampled ``index`` is a multiple of it, the analysis's restart points
    (:attr:`AnalysisConfig.restart_every`) where its engines restart theirs (the first frame always
    meets a fresh tracker, so frames may start at any restart point, as a resumed analysis does);
    None: one tracker throughout. The tracker is closed at the end, also when the consumer stops early.
    """
    tracker, fresh = new_tracker(), True
    try:
        for f in frames:
            if restart_every and not fresh and f.index % restart_every == 0:
                tracker.close()
                tracker = new_tracker()
            fresh = False
            yield f, tracker.process(f.rgb)
    finally:
        tracker.close()


def tracker_cards(config: AnalysisConfig, device: str) -> list[dict]:
    from facelens.core.registry import ModelError, registry

    cards = []
    for mid in ("mediapipe-face-detection-short", "mediapipe-face-landmark-attention"):
        try:
            card = registry.get(mid).as_dict()
        except ModelError:
            card = {"id": mid}
        card["runtime_used"] = "mediapipe FaceMesh (CPU)" if config.backend == "mediapipe" else f"torch ({device})"
        cards.append(card)
    return cards


class TorchThreads:
    """On CPU, run torch and onnxruntime single-threaded while analysing, and numpy's BLAS
    single-threaded on every device; then restore the settings.

    The decoder thread and mediapipe's own threads already occupy the cores; torch's OpenMP
    workers spinning beside them made the emotion model ~7x slower per face (measured on the
    2-core build machine: 50 ms vs 7 ms per frame). OpenBLAS's workers spin the same way after
    each product: with the fit's and G's small products on the sink thread, two BLAS threads
    raised the 591-s recording's CPU time by about 2.5 ms per frame (one run each way). OpenCV's
    own pool is set to one thread too: on the face-sized images of the analysis (the emotion crop's
    pyramid step and warp) its second thread cost CPU without saving time (crop 169 -> 55 us CPU
    per face, wall 89 -> 55 us, on the build machine).
    """

    def __init__(self, device: str) -> None:
        self.device, self.saved = device, 0
        self._blas: Any = None
        self._cv2_threads: int | None = None

    def __enter__(self) -> None:
        from threadpoolctl import threadpool_limits

        from facelens.core.common import threads

        self._blas = threadpool_limits(1, "blas")
        import cv2

        self._cv2_threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        if self.device == "cpu":
            self.saved = threads.cpu_threads()
            threads.set_cpu_threads(1)

    def __exit__(self, *exc: object) -> None:
        from facelens.core.common import threads

        if self._blas is not None:
            self._blas.restore_original_limits()
            self._blas = None
        if self._cv2_threads is not None:
            import cv2

            cv2.setNumThreads(self._cv2_threads)
            self._cv2_threads = None

        if self.saved:
            threads.set_cpu_threads(None)
            import sys

            torch = sys.modules.get("torch")
            if torch is not None:
                torch.set_num_threads(self.saved)
