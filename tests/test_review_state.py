"""The evented review state: clamping, one signal per real change, navigation helpers."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.viewmodel.review_state import ReviewState

TIMES = np.round(np.arange(0.0, 12.0, 0.1) + 0.033, 3)  # 10 fps samples, first at 0.033 s


@pytest.fixture
def state() -> ReviewState:
    s = ReviewState()
    s.set_session(7, TIMES, duration_s=12.0)
    return s


def recorder(signal) -> list:
    got: list = []
    signal.connect(lambda *args: got.append(args[0] if len(args) == 1 else args))
    return got


def test_set_session_resets_and_emits(state: ReviewState) -> None:
    sessions = recorder(state.session_changed)
    heads = recorder(state.playhead_changed)
    state.playhead = 5.0
    state.selected_segment = "abc"
    state.playing = True
    state.set_session(8, [0.0, 0.1, 0.2], duration_s=0.25)
    assert sessions == [8]
    assert heads == [5.0, 0.0]
    assert (state.playhead, state.playing, state.selected_segment) == (0.0, False, None)
    assert state.visible_range == (0.0, 0.25) and state.duration_s == 0.25
    state.set_session(8, [0.0, 0.1, 0.2], duration_s=0.25)
    assert sessions == [8]  # same session again: no session signal


def test_playhead_clamps_and_emits_once(state: ReviewState) -> None:
    heads = recorder(state.playhead_changed)
    state.playhead = 50.0
    assert state.playhead == 12.0 and heads == [12.0]
    state.playhead = 13.0  # clamps to the same value: no second signal
    assert heads == [12.0]
    state.playhead = -3.0
    assert state.playhead == 0.0 and heads == [12.0, 0.0]
    state.playhead = 0.0
    assert heads == [12.0, 0.0]
    with pytest.raises(ValueError):
        state.playhead = float("nan")
    assert len(heads) == 2


def test_other_fields_emit_only_on_change(state: ReviewState) -> None:
    speeds = recorder(state.speed_changed)
    mesh = recorder(state.show_mesh_changed)
    posefree = recorder(state.posefree_only_changed)
    sel = recorder(state.selected_segment_changed)
    rng = recorder(state.visible_range_changed)
    state.speed = 2
    state.speed = 2.0
    with pytest.raises(ValueError, match="speed"):
        state.speed = 3.0
    assert speeds == [2.0] and state.speed == 2.0
    state.show_mesh = False
    state.show_mesh = False
    state.posefree_only = True
    state.selected_segment = "s1"
    state.selected_segment = "s1"
    state.selected_segment = None
    state.visible_range = (-5.0, 3.0)
    state.visible_range = (0.0, 3.0)
    with pytest.raises(ValueError):
        state.visible_range = (4.0, 3.0)
    assert mesh == [False] and posefree == [True] and sel == ["s1", None] and rng == [(0.0, 3.0)]


def test_frame_stepping_uses_sampled_times(state: ReviewState) -> None:
    assert state.playhead == pytest.approx(0.033) and state.current_frame == 0
    state.step_frames(1)
    assert state.playhead == pytest.approx(0.133) and state.current_frame == 1
    state.step_frames(10)
    assert state.current_frame == 11 and state.playhead == pytest.approx(TIMES[11])
    state.step_frames(-3)
    assert state.current_frame == 8
    state.playhead = 0.5  # between samples 0.433 and 0.533
    state.step_frames(1)
    assert state.playhead == pytest.approx(0.533)
    state.playhead = 0.5
    state.step_frames(-1)
    assert state.playhead == pytest.approx(0.433)
    state.step_frames(-1000)
    assert state.current_frame == 0
    state.step_frames(1000)
    assert state.current_frame == len(TIMES) - 1
    state.home()
    assert state.playhead == pytest.approx(TIMES[0])
    state.end()
    assert state.playhead == pytest.approx(TIMES[-1])
    state.step_seconds(100.0)
    assert state.playhead == 12.0
    state.step_seconds(-2.5)
    assert state.playhead == pytest.approx(9.5) and state.current_frame == 95


def test_advance_plays_at_speed_and_stops_at_end(state: ReviewState) -> None:
    assert state.advance(1.0) == pytest.approx(0.033)  # not playing: no movement
    state.playing = True
    state.speed = 0.5
    assert state.advance(1.0) == pytest.approx(0.533)
    playing = recorder(state.playing_changed)
    state.playhead = 11.9
    state.advance(1.0)
    assert state.playhead == pytest.approx(TIMES[-1]) and not state.playing and playing == [False]


def test_empty_session() -> None:
    s = ReviewState()
    assert s.current_frame == -1
    s.set_session(1, [], duration_s=3.0)
    s.step_frames(5)
    assert s.playhead == 0.0
    s.end()
    assert s.playhead == 3.0
    with pytest.raises(ValueError):
        s.set_session(2, [], duration_s=float("inf"))


def test_extend_times_grows_without_resetting_the_view():
    from facelens.viewmodel.review_state import ReviewState

    s = ReviewState()
    s.set_session(1, [0.0, 0.1, 0.2], duration_s=0.2)
    s.playhead = 0.1
    s.selected_segment = "a"
    s.visible_range = (0.0, 0.2)
    moved = []
    s.playhead_changed.connect(moved.append)
    s.extend_times([0.0, 0.1, 0.2, 0.3, 0.4], duration_s=10.0)
    assert s.times.size == 5 and s.duration_s == 10.0
    assert s.playhead == 0.1 and s.selected_segment == "a" and moved == []
    s.end()
    assert s.playhead == 0.4
    import pytest

    with pytest.raises(ValueError):
        s.extend_times([0.0, 0.1])  # shorter than what is known
    with pytest.raises(ValueError):
        s.extend_times([0.0, 0.5, 0.2, 0.3, 0.4, 0.6])  # does not start with the known times
