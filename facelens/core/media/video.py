"""Reading a recorded session: decoding with PyAV, sampling by presentation time, random access.

Sampling rule (``MediaSource.iter_sampled``): for target times ``k / fps`` (k = 0, 1, ...) the
sampler takes the latest decoded frame whose presentation time is ``<= k / fps``. A native
frame that is the latest for several targets (a gap in a variable-frame-rate stream) is
emitted once, with its own time. Equivalently, frame *i* is emitted when the interval
``[t_i, t_{i+1})`` contains a target, which needs only one frame of look-ahead.

Times are seconds from the stream's start time, computed from integer pts and the stream's
time base (exact fractions, so a frame at exactly 0.1 s is the one for target 0.1 s).
Frames are rotated upright according to the display matrix (or an old ``rotate`` tag).
"""
from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.types import SampledFrame, VideoInfo

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
_FORWARD_DECODE_LIMIT_S = 2.0  # frame_at decodes forward instead of seeking for jumps up to this


class VideoError(Exception):
    """A recording that cannot be used (missing, empty, not a video, undecodable); one line."""


_AV_ERRORS: tuple[type[BaseException], ...] = ()


def av_errors() -> tuple[type[BaseException], ...]:
    global _AV_ERRORS
    if not _AV_ERRORS:
        import av

        _AV_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError)
    return _AV_ERRORS


def open_container(path: Path) -> Any:
    """Open with threaded decoding (PyAV releases the GIL while decoding)."""
    import av

    try:
        container = av.open(str(path))
    except av_errors() as exc:
        raise VideoError(f"{path.name} is not a video or image FaceLens can read ({_short(exc)})") from None
    if container.streams.video:
        container.streams.video[0].thread_type = "AUTO"
    return container


_LOCAL = threading.local()


def _reformatter() -> Any:
    """This thread's colour converter. ``frame.to_ndarray(format=...)`` builds a new one (and a new
    swscale context) for every frame; one kept per thread gives the same pixels for less CPU
    (swscale contexts must not be shared between threads)."""
    r = getattr(_LOCAL, "reformatter", None)
    if r is None:
        from av.video.reformatter import VideoReformatter

        r = _LOCAL.reformatter = VideoReformatter()
    return r


def _upright(rgb: np.ndarray, ccw_deg: int) -> np.ndarray:
    """Rotate counter-clockwise by ``ccw_deg`` (a multiple of 90) as the display matrix asks."""
    k = (ccw_deg // 90) % 4
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb


def open_media(path: str | os.PathLike[str]) -> MediaSource:
    """Open a video or still image; raises :class:`VideoError` with a one-line reason."""
    p = Path(path)
    if not p.exists():
        raise VideoError(f"file not found: {p}")
    if p.is_dir():
        raise VideoError(f"{p} is a folder, not a video")
    if p.stat().st_size == 0:
        raise VideoError(f"{p} is empty")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return ImageSource(p)
    return VideoSource(p)


class MediaSource:
    """A recording opened for reading. ``info`` describes it (after rotation)."""

    info: VideoInfo

    def iter_sampled(self, fps: float = 10.0, start_index: int = 0) -> Iterator[SampledFrame]:
        raise NotImplementedError

    def frame_at(self, t: float) -> SampledFrame:
        raise NotImplementedError

    def n_sampled(self, fps: float = 10.0) -> int:
        """Expected number of sampled frames (exact for constant frame rate; VFR gaps give fewer)."""
        if self.info.is_image:
            return 1
        return max(1, math.ceil(self.info.duration_s * fps - 1e-6))

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self) -> MediaSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ImageSource(MediaSource):
    """A still photograph: a session of one frame at time 0 (EXIF orientation applied)."""

    def __init__(self, path: Path) -> None:
        import cv2

        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)  # IMREAD_COLOR honours EXIF orientation
        if bgr is None:
            raise VideoError(f"{path} is not a readable image")
        self._rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        h, w = self._rgb.shape[:2]
        self.info = VideoInfo(path=str(path), duration_s=0.0, native_fps=0.0, width=w, height=h,
                              n_frames=1, codec="image", is_image=True)

    def _frame(self) -> SampledFrame:
        return SampledFrame(index=0, frame_index=0, time_s=0.0, rgb=self._rgb.copy())

    def iter_sampled(self, fps: float = 10.0, start_index: int = 0) -> Iterator[SampledFrame]:
        if start_index == 0:
            yield self._frame()

    def frame_at(self, t: float) -> SampledFrame:
        return self._frame()


class VideoSource(MediaSource):
    """A video file decoded with PyAV (``thread_type="AUTO"``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        container = open_container(path)
        try:
            if not container.streams.video:
                raise VideoError(f"{path.name} has no video track")
            stream = container.streams.video[0]
            self._check_not_truncated(stream)
            self._tb = Fraction(stream.time_base) if stream.time_base else Fraction(1, 90000)
            self._start = stream.start_time if stream.start_time is not None else 0
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            first = next(self._decode(container, stream), None)
            if first is None:
                raise VideoError(f"{path.name}: no frame could be decoded")
            self._rotation = self._rotation_of(first, stream)
            if stream.duration:
                duration = float(stream.duration * self._tb)
            elif container.duration:
                duration = container.duration / 1e6
            else:
                duration = (stream.frames / fps) if stream.frames and fps else 0.0
            w, h = first.width, first.height
            if self._rotation % 180:
                w, h = h, w
            self.info = VideoInfo(path=str(path), duration_s=duration, native_fps=fps, width=w, height=h,
                                  rotation_deg=self._rotation, n_frames=stream.frames or None,
                                  codec=stream.codec_context.name)
        finally:
            container.close()
        self._ra: Any = None  # random-access container, opened on first frame_at
        self._ra_state: tuple[Any, Any, Fraction, int] | None = None

    # -- helpers -------------------------------------------------------------------------------
    def _check_not_truncated(self, stream: Any) -> None:
        """MP4/MOV keep a sample table: samples that lie past the end of the file mean truncation."""
        try:
            entries = stream.index_entries
            end = max((e.pos + e.size for e in entries), default=0) if len(entries) else 0
        except (AttributeError, TypeError):  # older PyAV or a container without an index
            return
        if end > self.path.stat().st_size:
            raise VideoError(f"{self.path.name} is truncated (its index points past the end of the file)")

    @staticmethod
    def _rotation_of(frame: Any, stream: Any) -> int:
        rot = int(round(getattr(frame, "rotation", 0) or 0))
        if rot == 0 and "rotate" in stream.metadata:  # old tag: clockwise degrees
            try:
                rot = -int(float(stream.metadata["rotate"]))
            except ValueError:
                rot = 0
        return (round(rot / 90) * 90) % 360

    def _decode(self, container: Any, stream: Any) -> Iterator[Any]:
        try:
            yield from container.decode(stream)
        except av_errors() as exc:
            raise VideoError(f"{self.path.name}: decoding failed ({_short(exc)})") from None

    def _time(self, frame: Any, fallback: Fraction) -> Fraction:
        pts = frame.pts if frame.pts is not None else frame.dts
        return fallback if pts is None else (pts - self._start) * self._tb

    def to_rgb(self, frame: Any) -> np.ndarray:
        return _upright(_reformatter().reformat(frame, format="rgb24").to_ndarray(), self._rotation)

    def _timed_frames(self, container: Any) -> Iterator[tuple[int, Fraction, Any]]:
        """(native ordinal, exact time, frame) in presentation order; out-of-order frames dropped."""
        stream = container.streams.video[0]
        step = Fraction(1) / Fraction(self.info.native_fps or 25).limit_denominator(100000)
        last: Fraction | None = None
        ordinal = 0
        for frame in self._decode(container, stream):
            t = self._time(frame, (last + step) if last is not None else Fraction(0))
            if last is not None and t <= last:
                continue  # a damaged stream went back in time: never emit out of order
            yield ordinal, t, frame
            last = t
            ordinal += 1

    # -- sampling --------------------------------------------------------------------------------
    def iter_sampled(self, fps: float = 10.0, start_index: int = 0) -> Iterator[SampledFrame]:
        """Frames at ``fps`` by presentation time (see the module docstring for the rule).

        ``start_index`` skips the first sampled frames without converting them to RGB (resume).
        """
        rate, end = self._rate_and_end(fps)
        container = open_container(self.path)
        index = 0
        try:
            held: tuple[int, Fraction, Any] | None = None
            for item in self._timed_frames(container):
                if held is not None and _covers_target(held[1], item[1], rate):
                    if index >= start_index:
                        yield SampledFrame(index, held[0], float(held[1]), self.to_rgb(held[2]))
                    index += 1
                held = item
            if held is not None and _covers_target(held[1], self._end_of_last(held[1], end), rate):
                if index >= start_index:
                    yield SampledFrame(index, held[0], float(held[1]), self.to_rgb(held[2]))
                index += 1
        finally:
            container.close()
        expected = self.info.n_frames
        if expected and held is not None and held[0] + 1 < 0.95 * expected:
            raise VideoError(f"{self.path.name} is truncated or damaged: decoded {held[0] + 1} of "
                             f"{expected} frames (stopped at {float(held[1]):.2f} s)")

    def _rate_and_end(self, fps: float) -> tuple[Fraction, Fraction]:
        if fps <= 0:
            raise ValueError("fps must be positive")
        return Fraction(fps).limit_denominator(10000), Fraction(self.info.duration_s).limit_denominator(10**6)

    def sampled_positions(self, pts: np.ndarray, fps: float) -> list[int]:
        """Positions in ``pts`` (every frame's presentation timestamp, in presentation order) of the
        frames :meth:`iter_sampled` emits at ``fps``: the same rule, planned without decoding."""
        rate, end = self._rate_and_end(fps)
        times = [(int(p) - self._start) * self._tb for p in pts]
        if not times:
            return []
        sampled = [i for i in range(len(times) - 1) if _covers_target(times[i], times[i + 1], rate)]
        if _covers_target(times[-1], self._end_of_last(times[-1], end), rate):
            sampled.append(len(times) - 1)
        return sampled

    def _end_of_last(self, t_last: Fraction, end: Fraction) -> Fraction:
        """When the last frame stops being shown: the stream's end, else one native frame later."""
        if end > t_last:
            return end
        fps = Fraction(self.info.native_fps or 25).limit_denominator(100000)
        return t_last + 1 / fps

    # -- random access ---------------------------------------------------------------------------
    def frame_at(self, t: float) -> SampledFrame:
        """The latest frame whose presentation time is ``<= t`` (the first frame if ``t`` precedes it).

        Seeks to the keyframe before ``t`` and decodes forward; consecutive calls moving forward
        by less than 2 s continue decoding without a seek (smooth playback in the GUI).
        ``index`` is ``-1`` and ``frame_index`` the native ordinal estimated from the frame rate.
        """
        target = Fraction(max(0.0, float(t))).limit_denominator(10**6)
        if self._ra is None:
            self._ra = open_container(self.path)
        state = self._ra_state
        if state is None or not (state[2] <= target < state[2] + _FORWARD_DECODE_LIMIT_S):
            state = self._seek(target)
        frames, held, held_t, _ = state
        for frame in frames:
            ft = self._time(frame, held_t)
            if ft > target and held is not None:
                self._ra_state = (_chain(frame, frames), held, held_t, 0)
                return self._sample_from(held, held_t)
            held, held_t = frame, ft
        if held is None:
            raise VideoError(f"{self.path.name}: no frame at {float(t):.3f} s")
        self._ra_state = None  # end of stream: the next call seeks again
        return self._sample_from(held, held_t)

    def _seek(self, target: Fraction) -> tuple[Any, Any, Fraction, int]:
        """Seek to a keyframe at or before ``target``; back off further if the demuxer overshoots."""
        stream = self._ra.streams.video[0]
        back = Fraction(0)
        while True:
            want = max(Fraction(0), target - back)
            self._ra.seek(int(want / self._tb) + self._start, stream=stream, backward=True, any_frame=False)
            frames = self._decode(self._ra, stream)
            first = next(frames, None)
            if first is None:
                raise VideoError(f"{self.path.name}: no frame at {float(target):.3f} s")
            ft = self._time(first, want)
            if ft <= target or want == 0:
                return (_chain(first, frames), None, Fraction(-1), 0)
            back = back * 2 if back else Fraction(1)

    def _sample_from(self, frame: Any, t: Fraction) -> SampledFrame:
        ordinal = int(round(float(t) * self.info.native_fps)) if self.info.native_fps else 0
        return SampledFrame(index=-1, frame_index=ordinal, time_s=float(t), rgb=self.to_rgb(frame))

    def close(self) -> None:
        if self._ra is not None:
            self._ra.close()
            self._ra = None
            self._ra_state = None


def _covers_target(t0: Fraction, t1: Fraction, rate: Fraction) -> bool:
    """Whether some target ``k / rate`` (k >= 0) lies in ``[t0, t1)``."""
    k = max(0, math.ceil(t0 * rate))
    return Fraction(k) / rate < t1


def _chain(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest


def _short(exc: BaseException) -> str:
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return msg[:160]
