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
