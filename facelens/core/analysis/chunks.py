"""Chunk-parallel decoding and tracking: many restart chunks of one video side by side.

The pipeline restarts the face tracker every ``restart_every`` sampled frames (its resume
points), so tracking results are defined per *chunk* of that many frames and do not depend on
any other chunk. This module runs ``B`` chunks at once: step ``t`` holds frame ``t`` of each
chunk, every chunk keeps its own tracking state (the landmarks of its own previous frame), and
one detector + one mesh run per step serve the ``B`` frames
(:meth:`~facelens.core.face.torchface.tracker.TorchFaceTracker.process_streams`). No fixed-point
iteration: the result equals running the chunks one after the other, frame by frame.

Decoding
--------
:func:`plan_samples` demuxes the file once without decoding (packet timestamps only; much
cheaper than decoding) and applies the sampling rule of
:meth:`facelens.core.media.video.VideoSource.iter_sampled` to the sorted presentation times, which
gives every sampled frame's index, native ordinal and time before anything is decoded. Each
chunk then gets its own decoder (:func:`iter_chunk`): a seek to the keyframe before the chunk's
first sampled frame, decoding forward. :class:`ChunkFeeder` runs these decoders in a thread pool
(PyAV releases the GIL while decoding and converting), a few frames per task, and hands out one
frame per live chunk per step.

Every decoded frame inside a chunk's span is checked against the plan (same timestamps, in the
same order, none missing), so the chunks together reproduce the sequential decoder's frame
sequence, ordinals included; a stream for which that cannot be shown raises
:class:`ChunkMismatch` (the pipeline then falls back to sequential decoding), and
:func:`plan_samples` returns ``None`` for streams it cannot plan (packets without timestamps,
fewer frames than the header announces).

Memory: each chunk decoder holds at most ``2 * prefetch`` RGB frames; ``prefetch`` is chosen from
a byte budget (:data:`DECODE_BUDGET_BYTES`) and the number of chunks.
"""
from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from itertools import islice
from typing import Any, Self

import numpy as np

from facelens.core.common.types import SampledFrame
from facelens.core.media import h264
from facelens.core.media.video import MediaSource, VideoSource, open_container

DECODE_BUDGET_BYTES = 256 * 2**20  # decoded RGB frames waiting in all chunk decoders together


class ChunkMismatch(Exception):
    """A chunk decoded after a seek does not reproduce the sequential decoder's frames."""


@dataclass(frozen=True)
class SamplePlan:
    """Where the sampled frames of a video are, found from packet timestamps.

    Attributes
    ----------
    pts : ndarray (F,) int64
        Presentation timestamp of every frame, in presentation order (position = native ordinal).
    sampled : ndarray (N,) int64
        Native ordinal of each sampled frame (position = sampled index).
    start, time_base
        The stream's start time and time base (frame time = ``(pts - start) * time_base``).
    """

    pts: np.ndarray
    sampled: np.ndarray
    start: int
    time_base: Fraction

    @property
    def n_sampled(self) -> int:
        return int(self.sampled.size)

    def time_of(self, ordinal: int) -> float:
        return float((int(self.pts[ordinal]) - self.start) * self.time_base)

    def chunks(self, length: int, first: int = 0) -> list[tuple[int, int]]:
        """Sampled-index ranges ``[a, b)`` of the chunks from chunk ``first`` on."""
        n = self.n_sampled
        return [(a, min(a + length, n)) for a in range(first * length, n, length)]


def plan_samples(session: MediaSource, fps: float) -> SamplePlan | None:
    """The sampling plan of ``session`` at ``fps``, or ``None`` where it cannot be planned exactly.

    Images, streams with packets lacking timestamps and streams with fewer packets than the
    header announces (truncated: the sequential decoder reports those) give ``None``.
    """
    if not isinstance(session, VideoSource) or fps <= 0:
        return None
    container = open_container(session.path)
    try:
        stream = container.streams.video[0]
        pts: list[int] = []
        for packet in container.demux(stream):
            if packet.size == 0:
                continue  # the demuxer's final flush packet
            if packet.pts is None:
                return None
            pts.append(int(packet.pts))
    except Exception:  # noqa: BLE001 - any demux trouble: let the sequential decoder report it
        return None
    finally:
        container.close()
    if not pts:
        return None
    expected = session.info.n_frames
    ordered = np.unique(np.asarray(pts, dtype=np.int64))  # presentation order; duplicates dropped
    if expected and ordered.size < 0.95 * expected:
        return None
    sampled = session.sampled_positions(ordered, fps)  # the media stage owns the sampling rule
    return SamplePlan(ordered, np.asarray(sampled, dtype=np.int64), session._start, session._tb)


def iter_chunk(session: VideoSource, plan: SamplePlan, first: int, stop: int,
               codec_threads: int = 1, skip_unsampled: bool = True) -> Iterator[SampledFrame]:
    """Sampled frames ``first .. stop-1`` decoded after a seek, checked against ``plan``.

    ``codec_threads`` > 1 lets FFmpeg thread this decoder too (worth it when there are fewer
    chunks than cores; FFmpeg's output does not depend on its thread count). ``skip_unsampled``
    leaves out the packets of H.264 pictures that are neither sampled nor referenced by any other
    picture (:mod:`facelens.core.media.h264`; the frames that are decoded do not change).

    Raises
    ------
    ChunkMismatch
        A decoded frame inside the chunk's span is not the planned one, or one is missing.
    """
    lo = int(plan.sampled[first])
    hi = int(plan.sampled[stop]) if stop < plan.n_sampled else int(plan.pts.size)  # span end (ordinal)
    target = int(plan.pts[lo])
    container = open_container(session.path)
    try:
        stream = container.streams.video[0]
        if codec_threads > 1:
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = codec_threads
        else:
            stream.thread_type = "NONE"  # parallelism comes from the chunks; B x cores threads would thrash
        skipped: set[int] = set()
        wanted = {int(plan.pts[o]) for o in plan.sampled[first:stop]} if skip_unsampled else set()
        skip = _unwanted_reference_free(stream, wanted, skipped) if skip_unsampled else None
        frames = _seek_before(container, stream, target, int(plan.pts[0]), plan.time_base, skip)
        ordinal, k = lo, first
        for frame in frames:
            p = frame.pts if frame.pts is not None else frame.dts
            if p is None:
                raise ChunkMismatch(f"frame without timestamp after {plan.time_of(ordinal - 1):.3f} s")
            if p < target:
                continue  # between the keyframe and the chunk's first frame
            while ordinal < hi and int(plan.pts[ordinal]) in skipped and p != int(plan.pts[ordinal]):
                ordinal += 1  # a planned frame whose packet was not decoded
            if ordinal >= hi:
                return
            if p != int(plan.pts[ordinal]):
                raise ChunkMismatch(f"decoded frame at pts {p}, planned {int(plan.pts[ordinal])} "
                                    f"({plan.time_of(ordinal):.3f} s)")
            if k < stop and ordinal == int(plan.sampled[k]):
                yield SampledFrame(k, ordinal, plan.time_of(ordinal), session.to_rgb(frame))
                k += 1
            ordinal += 1
            if ordinal >= hi:
                return
        while ordinal < hi and int(plan.pts[ordinal]) in skipped:
            ordinal += 1  # the span ends with pictures that were not decoded
        if ordinal < hi:
            raise ChunkMismatch(f"stream ended at frame {ordinal}, planned {hi}")
    finally:
        container.close()


def _seek_before(container: Any, stream: Any, target: int, earliest: int, tb: Fraction,
                 skip: Callable[[Any], bool] | None = None) -> Iterator[Any]:
    """Decoded frames from a keyframe at or before pts ``target`` (backs off if the demuxer
    overshoots); packets for which ``skip`` is true are not decoded."""
    back = 0
    one_second = max(1, int(1 / tb))
    while True:
        want = max(earliest, target - back)
        container.seek(want, stream=stream, backward=True, any_frame=False)
        frames = _decode(container, stream, skip)
        head = next(frames, None)
        if head is None:
            raise ChunkMismatch(f"nothing decoded after seeking to pts {want}")
        p = head.pts if head.pts is not None else head.dts
        if p is None or p <= target or want == earliest:
            return _chain(head, frames)
        back = back * 2 if back else one_second


def _decode(container: Any, stream: Any, skip: Callable[[Any], bool] | None) -> Iterator[Any]:
    """``container.decode(stream)``, leaving out the packets ``skip`` picks (the final empty
    packet, which flushes the decoder, is always decoded)."""
    if skip is None:
        yield from container.decode(stream)
        return
    for packet in container.demux(stream):
        if packet.size and skip(packet):
            continue
        yield from packet.decode()


def _chain(head: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield head
    yield from rest


def _unwanted_reference_free(stream: Any, wanted: set[int], skipped: set[int]) -> Callable[[Any], bool] | None:
    """The skip rule of a chunk decoder: a packet is left out when its picture is not sampled and no
    other picture depends on it (:mod:`facelens.core.media.h264`); its pts goes into ``skipped``.
    ``None`` where the stream's packets cannot be read that way."""
    length_size = h264.nal_length_size(stream.codec_context)
    if length_size is None:
        return None

    def skip(packet: Any) -> bool:
        pts = packet.pts
        if pts is None or int(pts) in wanted or not h264.is_disposable(memoryview(packet), length_size):
            return False
        skipped.add(int(pts))
        return True

    return skip


class ChunkFeeder:
    """Decode several chunks concurrently; iterate for one step (frame ``t`` of each live chunk) at a time.

    Parameters
    ----------
    session, plan
        The video and its :func:`plan_samples`.
    chunks
        Sampled-index ranges ``[a, b)``, one per chunk, in time order.
    threads
        Decoder threads (a pool shared by all chunks).
    prefetch
        Frames a chunk decodes per task; ``None`` picks it from :data:`DECODE_BUDGET_BYTES`.

    Each step is a list of ``(position in chunks, SampledFrame)`` for the chunks that still have
    frames (the last chunk of a video may be shorter).
    """

    def __init__(self, session: VideoSource, plan: SamplePlan, chunks: Sequence[tuple[int, int]],
                 threads: int = 2, prefetch: int | None = None) -> None:
        self.chunks = list(chunks)
        frame_bytes = max(1, session.info.width * session.info.height * 3)
        if prefetch is None:
            prefetch = DECODE_BUDGET_BYTES // (2 * frame_bytes * max(1, len(self.chunks)))
        self.prefetch = int(np.clip(prefetch, 1, 16))
        import os

        codec_threads = max(1, (os.cpu_count() or 1) // max(1, len(self.chunks)))
        self._gens = [iter_chunk(session, plan, a, b, codec_threads) for a, b in self.chunks]
        self._ready: list[deque[SampledFrame]] = [deque() for _ in self.chunks]
        self._task: list[Future | None] = [None] * len(self.chunks)
        self._done = [False] * len(self.chunks)
        self._pool = ThreadPoolExecutor(max_workers=max(1, int(threads)), thread_name_prefix="facelens-chunk")
        for c in range(len(self.chunks)):
            self._submit(c)

    def _submit(self, c: int) -> None:
        if self._task[c] is None and not self._done[c]:
            self._task[c] = self._pool.submit(self._take, self._gens[c])

    def _take(self, gen: Iterator[SampledFrame]) -> list[SampledFrame]:
        return list(islice(gen, self.prefetch))

    def _collect(self, c: int) -> None:
        task = self._task[c]
        if task is None:
            return
        got = task.result()  # re-raises the decoder's error here, in the consumer
        self._task[c] = None
        self._ready[c].extend(got)
        if len(got) < self.prefetch:
            self._done[c] = True

    def __iter__(self) -> Iterator[list[tuple[int, SampledFrame]]]:
        while True:
            step: list[tuple[int, SampledFrame]] = []
            for c in range(len(self.chunks)):
                if not self._ready[c]:
                    self._collect(c)
                if self._ready[c]:
                    step.append((c, self._ready[c].popleft()))
                if len(self._ready[c]) < self.prefetch:
                    self._submit(c)  # decode ahead while the tracker works on this step
            if not step:
                return
            yield step

    def close(self) -> None:
        """Stop decoding (waits for running tasks, then closes every decoder)."""
        for t in self._task:
            if t is not None:
                t.cancel()
        self._pool.shutdown(wait=True)
        for g in self._gens:
            g.close()  # type: ignore[attr-defined]

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_threads(n_chunks: int) -> int:
    """Decoder threads: one per chunk, at most one per core."""
    import os

    return max(1, min(n_chunks, os.cpu_count() or 1))


def n_groups(n_chunks: int, per_group: int) -> int:
    return math.ceil(n_chunks / max(1, per_group))
