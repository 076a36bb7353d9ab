"""Shared state of the review view: one typed, evented model that every view subscribes to (Qt-free).

Following napari's pattern, widgets never talk to each other: they set fields here and listen to
the ``<field>_changed`` signals (psygnal). A signal fires once per real change and never when a
value is set to what it already was, so views can set state freely without feedback loops.

Public API
----------
``ReviewState()``
    ``set_session(session_id, times, duration_s=None)`` — load a session's sampled times (s); resets
    playhead (first sampled time), playing, selection and visible range.
    Fields (property + signal): ``session_id`` / ``session_changed(object)``,
    ``playhead`` / ``playhead_changed(float)`` (clamped to [0, duration]),
    ``playing`` / ``playing_changed(bool)``, ``speed`` / ``speed_changed(float)`` (0.5, 1 or 2),
    ``selected_segment`` / ``selected_segment_changed(object)`` (segment id or None),
    ``show_mesh`` / ``show_mesh_changed(bool)``, ``posefree_only`` / ``posefree_only_changed(bool)``,
    ``visible_range`` / ``visible_range_changed(tuple)`` ((t0, t1), clamped, t1 > t0).
    Read-only: ``duration_s``, ``times``, ``current_frame`` (nearest sampled frame, -1 if none).
    ``extend_times(times, duration_s=None)`` — a running analysis added frames: grow the sampled
    times (and duration) without resetting playhead, selection or visible range.
    Helpers: ``step_frames(n)``, ``step_seconds(s)``, ``home()``, ``end()``, ``advance(dt_s)`` (the
    GUI's playback timer calls it; playback stops at the end).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from psygnal import Signal

from facelens.core.common.timeaxis import nearest_frame

SPEEDS = (0.5, 1.0, 2.0)
_EPS = 1e-9


class ReviewState:
    """Evented state of the review view (see the module docstring)."""

    session_changed = Signal(object)
    playhead_changed = Signal(float)
    playing_changed = Signal(bool)
    speed_changed = Signal(float)
    selected_segment_changed = Signal(object)
    show_mesh_changed = Signal(bool)
    posefree_only_changed = Signal(bool)
    visible_range_changed = Signal(tuple)

    def __init__(self) -> None:
        self._session_id: Any = None
        self._times = np.zeros(0)
        self._duration = 0.0
        self._playhead = 0.0
        self._playing = False
        self._speed = 1.0
        self._selected: str | None = None
        self._show_mesh = True
        self._posefree_only = False
        self._range = (0.0, 0.0)

    # ------------------------------------------------------------------ session
    def set_session(self, session_id: Any, times: np.ndarray | list[float], duration_s: float | None = None) -> None:
        """Show another session (``times``: its sampled frame times, seconds, ascending)."""
        t = np.sort(np.asarray(times, dtype=float).ravel())
        t = t[np.isfinite(t)]
        dur = float(duration_s) if duration_s is not None else (float(t[-1]) if t.size else 0.0)
        if not math.isfinite(dur) or dur < 0:
            raise ValueError(f"session duration must be a finite number ≥ 0, got {duration_s}")
        self._times, self._duration = t, max(dur, float(t[-1]) if t.size else 0.0)
        self.playing = False
        self.selected_segment = None
        changed = session_id != self._session_id
        self._session_id = session_id
        if changed:
            self.session_changed.emit(session_id)
        self.visible_range = (0.0, self._duration)
        self.home()

    def extend_times(self, times: np.ndarray | list[float], duration_s: float | None = None) -> None:
        """Grow the current session's sampled times while an analysis adds frames.

        ``times`` is the full, longer array (ascending); it must start with the times already known,
        so that frame indices stay valid. Nothing is reset; the playhead stays where it is (clamped to
        the new duration, which only grows). No signal fires unless the playhead had to move.

        Raises
        ------
        ValueError
            ``times`` is shorter than the known times or does not start with them.
        """
        t = np.asarray(times, dtype=float).ravel()
        t = t[np.isfinite(t)]
        n = self._times.size
        if t.size < n or not np.array_equal(t[:n], self._times):
            raise ValueError("extend_times needs the known sampled times followed by the new ones")
        if t.size > 1 and np.any(np.diff(t[n - 1 if n else 0:]) < 0):
            raise ValueError("sampled times must be ascending")
        self._times = t
        dur = float(duration_s) if duration_s is not None else 0.0
        if not math.isfinite(dur):
            raise ValueError(f"session duration must be finite, got {duration_s}")
        self._duration = max(self._duration, dur, float(t[-1]) if t.size else 0.0)

    @property
    def session_id(self) -> Any:
        return self._session_id

    @property
    def duration_s(self) -> float:
        return self._duration

    @property
    def times(self) -> np.ndarray:
        return self._times

    # ------------------------------------------------------------------ fields
    @property
    def playhead(self) -> float:
        return self._playhead

    @playhead.setter
    def playhead(self, t: float) -> None:
        t = float(t)
        if math.isnan(t):
            raise ValueError("playhead must be a number")
        t = min(max(t, 0.0), self._duration)
        if t != self._playhead:
            self._playhead = t
            self.playhead_changed.emit(t)

    @property
    def playing(self) -> bool:
        return self._playing

    @playing.setter
    def playing(self, value: bool) -> None:
        value = bool(value)
        if value != self._playing:
            self._playing = value
            self.playing_changed.emit(value)

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        v = float(value)
        if v not in SPEEDS:
            raise ValueError(f"speed must be one of {', '.join(str(s) for s in SPEEDS)}, got {value}")
        if v != self._speed:
            self._speed = v
            self.speed_changed.emit(v)

    @property
    def selected_segment(self) -> str | None:
        return self._selected

    @selected_segment.setter
    def selected_segment(self, segment_id: str | None) -> None:
        if segment_id != self._selected:
            self._selected = segment_id
            self.selected_segment_changed.emit(segment_id)

    @property
    def show_mesh(self) -> bool:
        return self._show_mesh

    @show_mesh.setter
    def show_mesh(self, value: bool) -> None:
        if bool(value) != self._show_mesh:
            self._show_mesh = bool(value)
            self.show_mesh_changed.emit(self._show_mesh)

    @property
    def posefree_only(self) -> bool:
        return self._posefree_only

    @posefree_only.setter
    def posefree_only(self, value: bool) -> None:
        if bool(value) != self._posefree_only:
            self._posefree_only = bool(value)
            self.posefree_only_changed.emit(self._posefree_only)

    @property
    def visible_range(self) -> tuple[float, float]:
        return self._range

    @visible_range.setter
    def visible_range(self, rng: tuple[float, float]) -> None:
        t0, t1 = (float(rng[0]), float(rng[1]))
        if math.isnan(t0) or math.isnan(t1) or t1 < t0:
            raise ValueError(f"visible range needs t0 ≤ t1, got {rng}")
        new = (min(max(t0, 0.0), self._duration), min(max(t1, 0.0), self._duration))
        if new != self._range:
            self._range = new
            self.visible_range_changed.emit(new)

    # ------------------------------------------------------------------ navigation
    @property
    def current_frame(self) -> int:
        """Index of the sampled frame nearest to the playhead (-1 when the session has none)."""
        t = self._times
        if t.size == 0:
            return -1
        return nearest_frame(t, self._playhead)

    def step_frames(self, n: int) -> None:
        """Move ``n`` sampled frames forward (negative: back); from between frames, the next one
        in that direction counts as the first step."""
        t = self._times
        if t.size == 0 or n == 0:
            return
        if n > 0:
            i = int(np.searchsorted(t, self._playhead + _EPS, side="right")) + n - 1
        else:
            i = int(np.searchsorted(t, self._playhead - _EPS, side="left")) + n
        self.playhead = float(t[min(max(i, 0), t.size - 1)])

    def step_seconds(self, s: float) -> None:
        self.playhead = self._playhead + float(s)

    def home(self) -> None:
        """Go to the first sampled frame (0 s when there is none)."""
        self.playhead = float(self._times[0]) if self._times.size else 0.0

    def end(self) -> None:
        """Go to the last sampled frame (the duration when there is none)."""
        self.playhead = float(self._times[-1]) if self._times.size else self._duration

    def advance(self, dt_s: float) -> float:
        """Playback tick: move by ``dt_s * speed`` while playing; stop at the last frame."""
        if not self._playing:
            return self._playhead
        last = float(self._times[-1]) if self._times.size else self._duration
        target = self._playhead + float(dt_s) * self._speed
        if target >= last:
            self.playhead = last
            self.playing = False
        else:
            self.playhead = target
        return self._playhead
