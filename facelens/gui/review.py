"""The review controller: one playhead (``core.review_state.ReviewState``) driving the video frame, the
3D face, the plots and the circumplex.

Views never talk to each other. They set fields of the evented state (seek, select, pose-free) and the
controller, subscribed to its ``<field>_changed`` signals, refreshes every view from the one state.
Playback is a ``QTimer`` that advances the playhead by the wall-clock time since the last tick × speed
(``ReviewState.advance``), so it keeps the video's pace and skips frames rather than drifting when an
update takes longer than a sampled frame.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from facelens.gui.session_data import SessionData
from facelens.gui.video_view import EMPTY_GUIDE
from facelens.viewmodel.review_state import ReviewState

SPEEDS = (0.5, 1.0, 2.0)


class ReviewController(QObject):
    """Keeps the views of the open session in step with :attr:`state`.

    Parameters
    ----------
    video, face, timeline, circumplex : the views (see their modules)
    """

    frame_shown = Signal(int)  # sampled frame index now on the mesh (for tests and benchmarks)

    def __init__(self, video: Any, face: Any, timeline: Any, circumplex: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.video, self.face, self.timeline, self.circumplex = video, face, timeline, circumplex
        self.state = ReviewState()
        self.data: SessionData | None = None
        self.loader: Any = None
        self.current_frame = -1
        self._follow = False
        self._timer = QTimer(self)
        self._timer.setInterval(15)  # poll often; the playhead follows the clock, not the tick count
        self._timer.timeout.connect(self._tick)
        self._last_tick = 0.0
        self.state.playhead_changed.connect(self._on_playhead)
        self.state.playing_changed.connect(self._on_playing)
        self.state.posefree_only_changed.connect(lambda _on: self._show_mesh(self.current_frame, force=True))
        self.state.show_mesh_changed.connect(self.video.set_overlay)
        timeline.seek_requested.connect(self.seek)
        face.posefree_toggled.connect(lambda on: setattr(self.state, "posefree_only", on))
        prefs = getattr(parent, "prefs", None)  # the window's AppSettings: "Video texture" is kept there
        if prefs is not None:
            face.bind_settings(prefs)

    # -- session -----------------------------------------------------------------------------
    def set_session(self, data: SessionData | None, loader: Any = None, session_id: Any = None) -> None:
        """Show a session (``None`` clears the views); ``loader`` decodes its video frames."""
        self.state.playing = False
        if self.loader is not None:
            self.loader.stop()
        if self.data is not None and self.data is not data:
            self.data.close()
        self.data, self.loader = data, loader
        self.face.set_session(data)  # no frame, mesh or fit of the previous session shows with this one
        if loader is not None:
            loader.frame_ready.connect(self._on_frame)
            loader.start()
        self.current_frame = -1
        self.video.clear("Loading…" if data is not None else EMPTY_GUIDE)
        self.refresh_series()
        self.state.set_session(session_id, data.time_s if data is not None else [],
                               data.duration_s if data is not None else 0.0)
        self._refresh(follow=False)
        if data is None:
            self.face.set_vertices(None)

    def refresh_series(self, keep_range: bool = False) -> None:
        """Redraw curves from :attr:`data` (called for each batch while an analysis runs)."""
        d = self.data
        if d is None:
            z = np.zeros(0)
            self.timeline.set_series(z, z, z, np.zeros(0, bool), 1.0, keep_range=keep_range)
            self.circumplex.set_series(z, z, z, np.zeros(0, bool))
            return
        self.timeline.set_series(d.time_s, d.valence, d.arousal, d.usable, d.duration_s, d.reason_at,
                                 keep_range=keep_range)
        self.circumplex.set_series(d.time_s, d.valence, d.arousal, d.usable)
        self.circumplex.set_time(self.state.playhead)
        if self.current_frame < 0 <= d.frame_at_time(self.state.playhead):
            self._refresh(follow=False)

    def update_times(self) -> None:
        """A live session grew: let the state know its sampled times, keeping the playhead."""
        d = self.data
        if d is None:
            return
        self.state.extend_times(d.time_s, d.duration_s or None)

    # -- playhead ----------------------------------------------------------------------------
    @property
    def playhead(self) -> float:
        return self.state.playhead

    def seek(self, t: float, follow: bool = False) -> None:
        """Move the playhead (clamped to the session); every view follows."""
        self._follow = follow
        self.state.playhead = float(t)
        self._follow = False

    def show_current(self) -> None:
        """Redraw every view at the playhead (after the session's length became known)."""
        self._refresh(follow=False)

    def _on_playhead(self, _t: float) -> None:
        self._refresh(follow=self._follow or self.state.playing)

    def _refresh(self, follow: bool) -> None:
        t = self.state.playhead
        d = self.data
        i = d.frame_at_time(t) if d is not None else -1
        if self.state.playing and i == self.current_frame and i >= 0:
            # Between two sampled frames nothing on screen changes but the cursor's sub-frame
            # position: skipping the repaints leaves the time for the frames that do change.
            return
        self.timeline.set_cursor(t, follow=follow)
        self.circumplex.set_time(t)
        if d is None:
            return
        if self.loader is not None:
            ts = d.time_s
            if 0 <= i < len(ts):
                # The sampled frame's own time: the decoded image is the one the mesh and VA belong to
                # (and a cache hit when stepping back); decode the next one ahead while this one shows.
                nxt = float(ts[i + 1]) if self.state.playing and i + 1 < len(ts) else None
                self.loader.request(float(ts[i]), ahead=nxt)
            else:
                self.loader.request(t)
        self._show_mesh(i)

    def _show_mesh(self, i: int, force: bool = False) -> None:
        d = self.data
        if d is None or (i == self.current_frame and not force):
            return
        self.current_frame = i
        # A frame left out of the analysis (no face, hand over the face, blur, extreme pose) is a gap
        # here too: neither the 3D face nor the overlay is drawn, and both say why.
        why = d.reason_at(i) if i >= 0 else "not analysed yet"
        verts = d.view_mesh(i, posefree=self.state.posefree_only) if i >= 0 and not why else None
        lm = d.landmarks_px(i) if i >= 0 and not why else None
        # The frame's own image positions and time: the video texture comes from that decoded frame only.
        ft = float(d.time_s[i]) if lm is not None and self.loader is not None else None
        self.face.set_vertices(verts, why, excluded=i >= 0, landmarks_px=lm, frame_time=ft, frame=i)
        self.video.set_landmarks(lm)
        self.video.set_excluded(why if i >= 0 else "")
        self.frame_shown.emit(i)

    def _on_frame(self, t: float, image: Any) -> None:
        self.video.set_image(t, image)
        self.face.set_frame(t, image)

    def step_frames(self, n: int) -> None:
        self._follow = True
        self.state.step_frames(n)
        self._follow = False

    def step_seconds(self, s: float) -> None:
        self.seek(self.state.playhead + s, follow=True)

    def home(self) -> None:
        self._follow = True
        self.state.home()
        self._follow = False

    def end(self) -> None:
        self._follow = True
        self.state.end()
        self._follow = False

    # -- playback ----------------------------------------------------------------------------
    def is_playing(self) -> bool:
        return self.state.playing

    def play(self) -> None:
        """Start playback (an unanalysed session plays its video over its whole length)."""
        if self.data is None or (not len(self.data.time_s) and self.state.duration_s <= 0):
            return
        last = float(self.data.time_s[-1]) if len(self.data.time_s) else self.state.duration_s
        if self.state.playhead >= last - 1e-6:
            self.state.home()
        self.state.playing = True

    def pause(self) -> None:
        self.state.playing = False

    def toggle_play(self) -> None:
        self.pause() if self.state.playing else self.play()

    def set_speed(self, speed: float) -> None:
        self.state.speed = float(speed)

    def _on_playing(self, playing: bool) -> None:
        if playing:
            self._last_tick = time.perf_counter()
            self._timer.start()
        else:
            self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        dt, self._last_tick = now - self._last_tick, now
        self.state.advance(dt)

    def close(self) -> None:
        self.state.playing = False
        if self.loader is not None:
            self.loader.stop()
            self.loader = None
        if self.data is not None:
            self.data.close()
            self.data = None
