"""Patient-safe results: a BD-vs-MDD result is tied to the patient, sessions and segments it came from.

Driven through real Qt input (double-click in the sessions tree, Ctrl+D, Del): opening another
patient's session clears the result; deleting a segment marks it out of date with the reason; the
report refuses to print an out-of-date result and prints a current one with the sessions it used.
"""
from __future__ import annotations

import csv
from pathlib import Path

import pytest
from _gui_sessions import add_session

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_single_face.mp4"


@pytest.fixture(scope="module")
def sim_cohort(tmp_path_factory):
    from facelens.core.diagnosis.simulate import simulate_cohort

    return simulate_cohort(tmp_path_factory.mktemp("simcohort"), n_bd=3, n_mdd=3, seed=5)


def _add_session(ws, media, patient: str, results: Path, segments) -> int:
    return add_session(ws, media / VIDEO, patient, results, segments, scenario="elicitation video")[0]


@pytest.fixture
def two_patients(gui_window, media, sim_cohort, tmp_path):
    from facelens.core.annotation.segments import read_segments_csv

    rows = list(csv.DictReader(sim_cohort.open()))
    base = sim_cohort.parent
    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    ids = [_add_session(w.workspace, media, code, base / r["results"], read_segments_csv(base / r["segments"]))
           for code, r in (("P001", rows[0]), ("P002", rows[1]))]
    w.refresh_sessions()
    return w, ids


def _double_click_session(qtbot, w, session_id: int) -> None:
    from PySide6.QtCore import QPoint, Qt

    item = w.sessions._items[session_id]
    tree = w.sessions.tree
    tree.scrollToItem(item)
    pos = tree.visualItemRect(item).topLeft() + QPoint(8, 4)  # on the session's name
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: w.session_id == session_id, timeout=10000)


def _key(qtbot, w, key, mod=None) -> None:
    """A real key press on the focused widget of the active window (shortcuts go through Qt's map)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    w.activateWindow()
    qtbot.waitActive(w)
    w.timeline.glw.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None, timeout=3000)
    qtbot.keyClick(QApplication.focusWidget(), key, mod or Qt.KeyboardModifier.NoModifier)


def _compute_with_keyboard(qtbot, w) -> None:
    from PySide6.QtCore import Qt

    before = w.model.diagnosis
    _key(qtbot, w, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: w.model.diagnosis is not None and w.model.diagnosis is not before, timeout=30000)


def test_another_patient_clears_the_result(qtbot, two_patients):
    w, (p1, p2) = two_patients
    _double_click_session(qtbot, w, p1)
    _compute_with_keyboard(qtbot, w)
    panel = w.diagnosis
    assert hasattr(w.model.diagnosis.result, "probability_bd")
    assert "P001" in panel.subject.text() and panel.result is not None and panel.stale.isHidden()
    _double_click_session(qtbot, w, p2)
    assert w.model.diagnosis is None and panel.result is None
    assert panel.drivers.rowCount() == 0 and "P001" not in panel.subject.text()
    assert "Compute" in panel.headline.text()  # the empty-state guide, not P001's number


def test_deleting_a_segment_marks_the_result_out_of_date_and_the_report_refuses(qtbot, two_patients, tmp_path,
                                                                                monkeypatch):
    from PySide6.QtCore import Qt

    from facelens.gui.controllers import report as report_ctl

    w, (p1, _p2) = two_patients
    _double_click_session(qtbot, w, p1)
    _compute_with_keyboard(qtbot, w)
    shown = w.diagnosis.headline.text()
    first = w.editor.segments[0].id
    w.select_segment(first)
    _key(qtbot, w, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: all(s.id != first for s in w.editor.segments), timeout=5000)
    panel = w.diagnosis
    assert not panel.stale.isHidden() and "segments were added, changed or deleted" in panel.stale.text()
    assert panel.headline.text() == shown and not panel.headline.isEnabled()  # kept, visibly out of date
    errors: list[str] = []
    monkeypatch.setattr(report_ctl, "show_error", lambda parent, title, msg: errors.append(msg))
    out = tmp_path / "stale.pdf"
    assert w.write_report(out, use_model=True) is None and not out.exists()
    assert errors and "out of date" in errors[0]
    # Without the model output the report is not about the stale number: it may be printed.
    assert w.write_report(tmp_path / "no-model.pdf", use_model=False) is not None
    # Computing again makes it current; the report then prints it with the sessions it used.
    _compute_with_keyboard(qtbot, w)
    qtbot.waitUntil(lambda: w.model.diagnosis_freshness.current, timeout=30000)
    assert panel.stale.isHidden() and panel.headline.isEnabled()
    path = w.write_report(tmp_path / "current.pdf", use_model=True)
    assert path is not None and path.read_bytes()[:5] == b"%PDF-"


def test_report_builder_refuses_inputs_that_changed(two_patients, tmp_path):
    from facelens.core.annotation.segments import Segment
    from facelens.core.report_content import ReportInputError, ReportOptions, content_for_session
    from facelens.core.report_content.provenance import patient_inputs

    w, (p1, _p2) = two_patients
    ws = w.workspace
    pid = ws.get_session(p1).patient_id
    before = patient_inputs(ws, pid).key
    ws.add_segment(p1, Segment(50.0, 51.0, "neutral"))
    after = patient_inputs(ws, pid).key
    assert before.difference(after) == "segments were added, changed or deleted"
    with pytest.raises(ReportInputError, match="out of date"):
        content_for_session(ws, p1, ReportOptions(expected_inputs=before.digest))
    content = content_for_session(ws, p1, ReportOptions(expected_inputs=after.digest))
    from facelens.core.report_content import DiagnosisSection

    diag = content.section(DiagnosisSection)
    assert diag.session_ids == [p1] and diag.inputs_digest == after.digest

