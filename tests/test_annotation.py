"""Undoable segment editing, clip sampling, per-segment statistics and label sets."""
from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import tomllib

from facelens.core.annotation import labels as labels_mod
from facelens.core.workspace.segment_editor import SegmentEditor, sample_clips, segment_stats
from facelens.core.annotation.segments import Segment, SegmentError, read_segments_csv
from facelens.core.workspace import Workspace


@pytest.fixture
def setup(tmp_path: Path):
    video = tmp_path / "v.mp4"
    video.write_bytes(b"video bytes")
    ws = Workspace.open(tmp_path / "ws", user="ra1")
    sid = ws.import_session(video, "P001").id
    yield tmp_path, ws, sid
    ws.close()


def spans(segs: list[Segment]) -> list[tuple[float, float, str]]:
    return [(s.start_s, s.end_s, s.label) for s in segs]


def test_edit_undo_redo_persist_across_reopen(setup) -> None:
    tmp, ws, sid = setup
    ed = SegmentEditor(ws, sid, author="ra1", duration_s=120.0)
    events: list[str] = []
    states: list[tuple[bool, bool]] = []
    ed.changed.connect(lambda: events.append("changed"))
    ed.undo_state_changed.connect(lambda u, r: states.append((u, r)))

    a = ed.add(10.0, 40.0, "happy", scenario="elicitation video")
    b = ed.add(50.0, 70.0, "sad")
    ed.update(a.id, note="smiles at the clip")
    ed.move(b.id, 55.0, 75.0)
    ed.delete(a.id)
    assert spans(ed.segments) == [(55.0, 75.0, "sad")]
    assert len(events) == 5 and states[-1] == (True, False)

    assert ed.undo() and ed.undo_text == "move segment"  # delete undone
    restored = ed.get(a.id)
    assert restored.note == "smiles at the clip" and restored.author == "ra1"
    assert ed.undo()  # move undone
    assert spans(ed.segments) == [(10.0, 40.0, "happy"), (50.0, 70.0, "sad")]
    assert ed.redo()  # move again
    assert states[-1] == (True, True)
    assert spans(ed.segments) == [(10.0, 40.0, "happy"), (55.0, 75.0, "sad")]
    ws.close()

    with Workspace.open(tmp / "ws", create=False) as ws2:  # what was on screen is on disk
        segs = ws2.segments(sid)
        assert spans(segs) == [(10.0, 40.0, "happy"), (55.0, 75.0, "sad")]
        assert segs[0].id == a.id and segs[0].note == "smiles at the clip"
        ed2 = SegmentEditor(ws2, sid, author="ra2")
        assert not ed2.can_undo  # history is per editor; the data is not
        ed2.delete(b.id)
        ed2.undo()
        ed2.redo()
    with Workspace.open(tmp / "ws", create=False) as ws3:
        assert spans(ws3.segments(sid)) == [(10.0, 40.0, "happy")]
        actions = [e.action for e in ws3.audit_entries()]
        assert actions.count("segment deleted") == 3 and actions.count("segment added") == 4


def test_undo_of_delete_keeps_creation_time(setup) -> None:
    _, ws, sid = setup
    ed = SegmentEditor(ws, sid)
    a = ed.add(0.0, 1.0, "neutral")
    created = ws.segment_record(a.id).created
    ed.delete(a.id)
    ed.undo()
    assert ws.segment_record(a.id).created == created


def test_merge_folds_a_drag_into_one_undo_step(setup) -> None:
    _, ws, sid = setup
    ed = SegmentEditor(ws, sid)
    a = ed.add(0.0, 10.0, "happy")
    for end in (11.0, 12.0, 13.0):
        ed.move(a.id, 0.0, end, merge=True)
    assert ed.get(a.id).end_s == 13.0
    ed.undo()
    assert ed.get(a.id).end_s == 10.0
    ed.undo()
    assert ed.segments == [] and not ed.can_undo
    ed.redo()
    ed.redo()
    assert ed.get(a.id).end_s == 13.0
    ed.update(a.id, label="sad")
    ed.move(a.id, 0.0, 14.0, merge=True)  # the previous command was not a merging move: own step
    ed.undo()
    assert ed.get(a.id) == Segment(0.0, 13.0, "sad", id=a.id)
    ed.move(a.id, 0.0, 15.0, merge=True)
    ed.seal()  # mouse released: the next drag is a new step
    ed.move(a.id, 0.0, 16.0, merge=True)
    ed.undo()
    assert ed.get(a.id).end_s == 15.0
    slow = SegmentEditor(ws, sid, merge_window_s=0.0)  # edits further apart than the window
    slow.move(a.id, 0.0, 17.0, merge=True)
    time.sleep(0.01)
    slow.move(a.id, 0.0, 18.0, merge=True)
    slow.undo()
    assert slow.get(a.id).end_s == 17.0


def test_new_edit_clears_redo_and_validation(setup) -> None:
    _, ws, sid = setup
    ed = SegmentEditor(ws, sid, duration_s=60.0, labels=("happy", "sad", "neutral"))
    a = ed.add(0.0, 10.0, "happy")
    ed.undo()
    assert ed.can_redo
    ed.add(20.0, 30.0, "sad")
    assert not ed.can_redo
    with pytest.raises(SegmentError, match="after the session"):
        ed.add(50.0, 61.0, "happy")
    with pytest.raises(SegmentError, match="not one of"):
        ed.add(0.0, 1.0, "angry")
    with pytest.raises(SegmentError):
        ed.add(5.0, 5.0, "happy")
    with pytest.raises(SegmentError, match="no segment"):
        ed.delete(a.id)  # it was undone
    assert len(ed.segments) == 1 and ed.undo_text == "add sad segment"


def test_csv_import_is_undoable_and_export_round_trips(setup) -> None:
    tmp, ws, sid = setup
    ed = SegmentEditor(ws, sid)
    own = ed.add(1.0, 2.0, "neutral")
    csv = tmp / "seg.csv"
    csv.write_text("start_s,end_s,label\n0,15,happy\n15,30,sad\n", encoding="utf-8")
    ed.import_csv(csv)
    assert spans(ed.segments) == [(0.0, 15.0, "happy"), (15.0, 30.0, "sad")]
    out = ed.export_csv(tmp / "out.csv")
    assert [s.id for s in read_segments_csv(out)] == [s.id for s in ed.segments]
    ed.undo()
    assert ed.segments == [own]
    bad = tmp / "bad.csv"
    bad.write_text("start,end\n1,2\n", encoding="utf-8")
    with pytest.raises(SegmentError, match="missing column"):
        ed.import_csv(bad)
    assert ed.segments == [own]


def test_sample_clips_hand_made() -> None:
    segs = [
        Segment(0.0, 40.0, "happy", id="h1"),  # 2 clips, 10 s dropped
        Segment(100.1, 130.1, "happy", id="h2"),  # exactly 2 clips despite float error
        Segment(50.0, 60.0, "happy", id="h3"),  # shorter than a clip: none
        Segment(200.0, 215.0, "sad", id="s1"),  # exactly one
    ]
    happy = sample_clips(segs, label="happy")
    assert [(c.id, c.start_s, c.end_s) for c in happy] == [
        ("h1-c01", 0.0, 15.0), ("h1-c02", 15.0, 30.0),
        ("h2-c01", 100.1, pytest.approx(115.1)), ("h2-c02", pytest.approx(115.1), pytest.approx(130.1)),
    ]
    assert all(c.label == "happy" and c.duration_s == pytest.approx(15.0) for c in happy)
    assert [c.id for c in sample_clips(segs)] == ["h1-c01", "h1-c02", "h2-c01", "h2-c02", "s1-c01"]
    assert sample_clips(segs, label="neutral") == []
    # clip length is a whole number of frames: 1.04 s at 10 fps -> 10 frames = 1.0 s
    assert [c.end_s for c in sample_clips([Segment(0.0, 2.5, "sad", id="x")], clip_s=1.04)] == [1.0, 2.0]
    with pytest.raises(ValueError):
        sample_clips(segs, clip_s=0.01, fps=10.0)


def test_segment_stats_on_hand_made_results() -> None:
    t = np.arange(0, 10, 0.1)
    v = np.where(t < 5, 0.4, -0.3).astype(float)
    a = np.full_like(t, 0.2)
    a[(t >= 1) & (t < 2)] = np.nan  # not computed for these frames
    usable = np.ones_like(t, dtype=bool)
    usable[(t >= 3) & (t < 3.5)] = False
    res = SimpleNamespace(time_s=t, valence=v, arousal=a, usable=usable)
    st = segment_stats(Segment(0.0, 5.0, "happy"), res)
    assert st.n_frames == 50 and st.n_valid == 50 - 10 - 5
    assert st.valence_mean == pytest.approx(0.4) and st.valence_sd == pytest.approx(0.0)
    both = segment_stats(Segment(4.0, 6.0, "x"), res)
    assert both.valence_mean == pytest.approx(0.05)
    assert both.valence_sd == pytest.approx(np.std([0.4] * 10 + [-0.3] * 10, ddof=1))
    assert "± " in both.describe() and "(n = 20/20)" in both.describe()
    none = segment_stats(Segment(3.0, 3.5, "x"), res)
    assert none.n_valid == 0 and np.isnan(none.valence_mean) and np.isnan(none.arousal_sd)


def test_segment_stats_reads_a_real_results_file(tmp_path: Path) -> None:
    from facelens.core.results import ResultsWriter, SessionResults

    n = 40
    t = np.arange(n) / 10.0
    meta = {"video_path": "x.mp4", "video_sha256": "0" * 64, "duration_s": 4.0, "native_fps": 30.0,
            "width": 64, "height": 64}
    with ResultsWriter(tmp_path / "r.h5", meta, expression_names=["smile"]) as w:
        w.append({"time_s": t, "frame_index": np.arange(n) * 3, "quality": np.where(t < 1.0, 2, 0),
                  "valence": np.where(t < 1.0, np.nan, t / 10.0), "arousal": np.full(n, 0.1)})
        w.finish()
    with SessionResults.open(tmp_path / "r.h5") as res:
        st = segment_stats(Segment(0.0, 2.0, "happy"), res)
    assert (st.n_frames, st.n_valid) == (20, 10)
    assert st.valence_mean == pytest.approx(np.mean(t[10:20] / 10.0), abs=1e-6)


def test_default_labels_match_builtin_and_print_well() -> None:
    res = labels_mod.resources_dir()
    assert res is not None
    data = tomllib.loads((res / "labels.toml").read_text(encoding="utf-8"))
    ls = labels_mod._merge(None, data, "labels.toml")
    builtin = labels_mod._merge(None, labels_mod._BUILTIN, "b")
    def key(st: labels_mod.LabelStyle) -> tuple[str, str, str, str]:
        return (st.name, st.colour, st.dash, st.hatch)

    assert [key(s) for s in ls.labels] == [key(s) for s in builtin.labels]
    assert ls.names == ("happy", "sad", "neutral", "exclude") and ls.scenarios == builtin.scenarios
    greys = sorted(s.grey for s in ls.labels)
    assert min(np.diff(greys)) > 0.15  # distinct grey levels when printed in black and white
    assert len({s.dash for s in ls.labels}) == 4  # a second, colour-free cue
    assert len({s.hatch for s in ls.labels}) == 4


def test_user_file_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    user = tmp_path / "labels.toml"
    user.write_text('[labels.happy]\ncolour = "#112233"\n[labels.anxious]\ncolour = "#AA4499"\ndash = "dot"\n')
    ls = labels_mod.load_label_set(user)
    assert ls.names == ("happy", "sad", "neutral", "exclude", "anxious")
    assert ls.colour("happy") == "#112233" and ls.style("happy").dash == "solid"
    assert ls.colour("Sad") == labels_mod._BUILTIN["labels"]["sad"]["colour"]
    assert ls.colour("unheard-of") == ls.colour("unheard-of")  # stable fallback
    user.write_text('replace = true\nscenarios = ["ward round"]\n[labels.calm]\ncolour = "#44AA99"\n')
    ls = labels_mod.load_label_set(user)
    assert ls.names == ("calm",) and ls.scenarios == ("ward round",)
    user.write_text('[labels.happy]\ncolour = "yellow"\n')
    with pytest.raises(labels_mod.LabelSetError, match="#RRGGBB"):
        labels_mod.load_label_set(user)
    user.write_text('[labels.happy]\nhatch = "~~"\n')
    with pytest.raises(labels_mod.LabelSetError, match="hatch"):
        labels_mod.load_label_set(user)
    user.write_text("[labels\n")
    with pytest.raises(labels_mod.LabelSetError, match="cannot read"):
        labels_mod.load_label_set(user)
    monkeypatch.setenv("FACELENS_LABELS", str(tmp_path / "none.toml"))
    with pytest.raises(labels_mod.LabelSetError, match="not found"):
        labels_mod.load_label_set()
    monkeypatch.delenv("FACELENS_LABELS")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    labels_mod.default_label_set.cache_clear()
    try:
        assert labels_mod.label_color("happy") == "#DDAA33"
    finally:
        labels_mod.default_label_set.cache_clear()


def test_default_labels_stay_distinct_for_colour_blind_readers() -> None:
    from itertools import combinations

    styles = labels_mod.load_label_set(labels_mod.resources_dir() / "labels.toml").labels
    for kind in labels_mod.CVD_KINDS:
        sim = [labels_mod.simulate_cvd(s.rgb, kind) for s in styles]
        worst = min(labels_mod.delta_e(a, b) for a, b in combinations(sim, 2))
        assert worst > 20.0, kind  # ~10x the just-noticeable difference
    # the check can fail: a red/green pair collapses for a deuteranope
    red, green = (0.84, 0.15, 0.16), (0.17, 0.63, 0.17)
    assert labels_mod.delta_e(red, green) > 60
    assert labels_mod.delta_e(labels_mod.simulate_cvd(red, "deuteranopia"),
                              labels_mod.simulate_cvd(green, "deuteranopia")) < 20
