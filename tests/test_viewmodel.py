"""The Qt-free view model: typed settings over any store, and the patient-safety rule of AppModel."""
from __future__ import annotations

from facelens.core.report_content.provenance import InputsKey
from facelens.viewmodel.app_model import AppModel, StampedResult
from facelens.viewmodel.settings import KEYS, AppSettings


class DictStore:
    def __init__(self) -> None:
        self.d: dict = {}

    def value(self, key, defaultValue=None):
        return self.d.get(key, defaultValue)

    def setValue(self, key, value):
        self.d[key] = value


def test_settings_convert_once_and_round_trip():
    store = DictStore()
    s = AppSettings(store)
    assert (s.device, s.author, s.report_use_model, s.recent_workspaces, s.last_session) == ("auto", "", True, [], None)
    store.d[KEYS["recent_workspaces"]] = "/one/folder"  # what an INI file returns for a one-entry list
    assert s.recent_workspaces == ["/one/folder"]
    store.d[KEYS["device"]] = "quantum"  # not a device: the default, not the string
    assert s.device == "auto"
    s.report_use_model = False
    assert store.d["report/use_model"] == "false" and s.report_use_model is False
    for i in range(12):
        s.remember_workspace(f"/w{i}")
    assert s.recent_workspaces[0] == "/w11" and len(s.recent_workspaces) == 8 and s.last_workspace == "/w11"
    s.author = "  RA1 "
    assert s.author == "RA1"


def _key(patient: int, segments: str = "s", sessions=((1, "a"),)) -> InputsKey:
    return InputsKey(patient, f"P{patient:03d}", tuple(sessions), segments)


def test_another_patient_drops_the_result_and_a_change_marks_it_stale():
    m = AppModel()
    events: list[str] = []
    m.events.diagnosis.connect(lambda *a: events.append("diagnosis"))
    k = _key(1)
    m.set_inputs(k)
    m.diagnosis = StampedResult("p=0.7", {}, k)
    assert m.diagnosis_freshness.current
    m.set_inputs(_key(1, segments="t"))
    f = m.diagnosis_freshness
    assert f.state == "stale" and "segments" in f.reason and m.diagnosis is not None
    m.set_inputs(_key(1, sessions=((1, "a"), (2, "b"))))
    assert m.diagnosis_freshness.reason == "the set of analysed sessions changed"
    m.set_inputs(_key(1, sessions=((1, "a2"),)))
    assert m.diagnosis_freshness.reason == "a session was analysed again"
    m.set_inputs(k)
    assert m.diagnosis_freshness.current  # back to the same data: current again
    m.set_inputs(_key(2))
    assert m.diagnosis is None and m.diagnosis_freshness.state == "none"
    assert events == ["diagnosis", "diagnosis"]  # set, then dropped


def _patient_with_sessions(tmp_path, n_sessions: int, n_segments: int):
    """A workspace with one patient, ``n_sessions`` analysed sessions (results files present) and
    ``n_segments`` segments each; a second patient's session too."""
    from facelens.core.annotation.segments import Segment
    from facelens.core.workspace import RunStatus, Workspace

    video = tmp_path / "v.mp4"
    video.write_bytes(b"not decoded here")
    ws = Workspace.open(tmp_path / "ws", create=True)
    ids = []
    for k in range(n_sessions):
        rec = ws.import_session(video, "P001", sha256="0" * 64)
        out = tmp_path / f"r{k}.h5"
        out.write_bytes(b"x" * (k + 1))
        ws.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
        ws.replace_segments(rec.id, [Segment(2.0 * i, 2.0 * i + 1.5, "happy" if i % 2 else "sad",
                                             id=f"s{k}-{i}") for i in range(n_segments)])
        ids.append(int(rec.id))
    other = ws.import_session(video, "P002", sha256="0" * 64)
    return ws, int(ws.get_session(ids[0]).patient_id), ids, int(other.id)


def test_inputs_cache_rereads_only_the_edited_session_and_gives_the_full_key(tmp_path):
    from facelens.core.annotation.segments import Segment
    from facelens.core.report_content.provenance import patient_inputs
    from facelens.viewmodel.inputs_cache import InputsCache

    ws, pid, ids, other = _patient_with_sessions(tmp_path, 6, 5)
    cache = InputsCache()
    first = cache.full(ws, pid, "")
    assert first.key == patient_inputs(ws, pid, "").key
    calls = {"list_sessions": 0, "latest_run": 0, "segments": 0}
    for name in calls:
        real = getattr(ws, name)

        def counted(*a, _real=real, _name=name, **k):
            calls[_name] += 1
            return _real(*a, **k)

        setattr(ws, name, counted)
    edited = ids[2]
    ws.add_segment(edited, Segment(40.0, 41.0, "happy", id="new"))
    key = cache.segments_edited(ws, pid, "", edited).key
    assert calls == {"list_sessions": 0, "latest_run": 0, "segments": 1}  # one session's segments only
    for name in calls:
        delattr(ws, name)  # the real methods again
    truth = patient_inputs(ws, pid, "").key
    assert key == truth and key.digest == truth.digest and key != first.key
    assert first.key.difference(key) == "segments were added, changed or deleted"
    # Another patient's session, another model, or an unanalysed session: no stale partial answer.
    assert cache.segments_edited(ws, pid, "other-model", edited).key == patient_inputs(ws, pid, "other-model").key
    assert cache.full_reads == 2 and cache.partial_reads == 1
    other_pid = int(ws.get_session(other).patient_id)
    assert cache.segments_edited(ws, other_pid, "", other).key == patient_inputs(ws, other_pid, "").key
    ws.close()
