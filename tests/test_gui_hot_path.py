"""The GUI's work per edit: a new or edited segment redraws the strip and the table once; a segment edit
re-reads only the edited session's segments for the inputs' fingerprint and never rebuilds the
diagnosis panel's result (only its out-of-date banner changes); writing a report does not make the
model announce a data change; a new segment's label is legible on the strip and in the table at once."""
from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import pytest
from _gui_sessions import add_session

pytestmark = pytest.mark.gui

WOLFGANG = "videos/pyfeat_WolfgangLanger_Pexels.mp4"
SHORT = "videos/pyfeat_single_face.mp4"


def _add_session(ws, media, video: str, patient: str, results: Path, segments=()) -> int:
    return add_session(ws, media / video, patient, results, segments, scenario="elicitation video")[0]


def _count(monkeypatch, obj, name: str, calls: dict) -> None:
    real = getattr(obj, name)
    calls[name] = 0

    def counted(*a, **k):
        calls[name] += 1
        return real(*a, **k)

    monkeypatch.setattr(obj, name, counted)


def _contrast(fg, bg) -> float:
    def lum(c):
        ch = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2]

    hi, lo = sorted((lum(fg), lum(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_a_new_segment_is_drawn_once_and_its_label_reads_on_strip_and_table(gui_window, media, analysed,
                                                                            tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QColor

    from facelens.gui.segment_panel import COL
    from facelens.render.colors import label_color

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    assert w.open_session(_add_session(w.workspace, media, WOLFGANG, "P080", analysed(WOLFGANG)))
    w.prefs.author = "RA1"
    tl, sp = {"n": 0}, {"n": 0}
    real_tl, real_sp = w.timeline.set_segments, w.segments.set_segments
    monkeypatch.setattr(w.timeline, "set_segments", lambda *a, **k: (tl.__setitem__("n", tl["n"] + 1), real_tl(*a, **k)))
    monkeypatch.setattr(w.segments, "set_segments", lambda *a, **k: (sp.__setitem__("n", sp["n"] + 1), real_sp(*a, **k)))
    w.new_label_box.setCurrentText("sad")
    seg = w.create_segment(3.0, 8.0)
    assert seg is not None and seg.label == "sad"
    assert (tl["n"], sp["n"]) == (1, 1)  # one redraw per new segment (it was two: the change, then the selection)
    # The new (selected) segment's label: on the strip in a colour that reads on its fill …
    region, text = w.timeline._regions[seg.id], w.timeline._region_labels[seg.id]
    assert text.toPlainText() == "sad"
    fill = region.brush.color()
    a = fill.alphaF()
    shown = tuple(a * c + (1 - a) for c in (fill.redF(), fill.greenF(), fill.blueF()))  # over the white strip
    fg = text.textItem.defaultTextColor()
    assert _contrast((fg.redF(), fg.greenF(), fg.blueF()), shown) >= 4.5  # WCAG AA for text (was 3.4)
    # … and in the table, selected, with its label colour still visible as a swatch.
    t = w.segments.table
    row = next(r for r in range(t.rowCount()) if t.item(r, 0).data(Qt.ItemDataRole.UserRole + 1) == seg.id)
    assert t.item(row, 0).isSelected() and t.item(row, COL["Label"]).text() == "sad"
    swatch = t.item(row, COL["Label"]).data(Qt.ItemDataRole.DecorationRole)
    assert QColor(swatch) == QColor(label_color("sad"))
    assert "New segment: sad" in w.statusBar().currentMessage()
    second = w.create_segment(10.0, 12.0, "happy")
    assert (tl["n"], sp["n"]) == (2, 2)
    w.undo()
    assert (tl["n"], sp["n"]) == (3, 3)
    assert all(s.id != second.id for s in w.editor.segments)


@pytest.fixture(scope="module")
def sim_cohort(tmp_path_factory):
    from facelens.core.diagnosis.simulate import simulate_cohort

    return simulate_cohort(tmp_path_factory.mktemp("simcohort"), n_bd=3, n_mdd=3, seed=5)


@pytest.fixture
def computed(gui_window, media, sim_cohort, tmp_path):
    """Patient P001 with three analysed sessions and a computed result; P002 with one session."""
    from facelens.core.annotation.segments import read_segments_csv

    rows = list(csv.DictReader(sim_cohort.open()))
    base = sim_cohort.parent
    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    ids = [_add_session(w.workspace, media, SHORT, code, base / r["results"],
                        [replace(s, id=f"{k}-{s.id}") for s in read_segments_csv(base / r["segments"])])
           for k, (code, r) in enumerate((("P001", rows[0]), ("P001", rows[2]), ("P001", rows[3]),
                                          ("P002", rows[1])))]
    assert w.open_session(ids[0])
    result = w.compute_diagnosis()
    assert hasattr(result, "probability_bd") and w.model.diagnosis_freshness.current
    return w, ids


def test_a_segment_edit_rereads_one_session_and_only_marks_the_result_stale(computed, monkeypatch):
    from facelens.core.report_content.provenance import patient_inputs
    from facelens.viewmodel import inputs_cache

    w, ids = computed
    panel, ws = w.diagnosis, w.workspace
    calls: dict = {}
    for name in ("show_result", "clear", "set_stale"):
        _count(monkeypatch, panel, name, calls)
    full = {"n": 0}
    monkeypatch.setattr(inputs_cache, "patient_inputs",
                        lambda *a, **k: (full.__setitem__("n", full["n"] + 1), patient_inputs(*a, **k))[1])
    reads: dict = {}
    for name in ("list_sessions", "latest_run"):
        _count(monkeypatch, ws, name, reads)
    partial = w.diagnosis_ctl.cache.partial_reads
    shown = panel.headline.text()
    for k in range(3):
        w.create_segment(0.1 + 0.3 * k, 0.3 + 0.3 * k, "neutral")
    monkeypatch.undo()  # the real methods again (the truth below reads everything)
    assert full["n"] == 0  # no full re-read of the patient's three sessions per edit
    assert reads["list_sessions"] == 0 and reads["latest_run"] == 0
    assert w.diagnosis_ctl.cache.partial_reads == partial + 3  # the edited session's segments, once per edit
    pid = int(ws.get_session(ids[0]).patient_id)
    assert w.model.inputs == patient_inputs(ws, pid, w.prefs.model_path).key  # the same key as a full read
    assert calls == {"show_result": 0, "clear": 0, "set_stale": 1}  # the banner once; the result never redrawn
    assert not panel.stale.isHidden() and panel.headline.text() == shown


def test_another_patient_clears_the_panel_once_and_a_report_announces_no_data_change(computed, monkeypatch,
                                                                                   tmp_path):
    w, ids = computed
    panel = w.diagnosis
    versions: list[int] = []
    w.model.events.data_version.connect(versions.append)
    before = w.diagnosis_ctl.cache.full_reads
    calls: dict = {}
    for name in ("show_result", "clear", "set_stale"):
        _count(monkeypatch, panel, name, calls)
    path = w.write_report(tmp_path / "current.pdf", use_model=True)
    assert path is not None and path.read_bytes()[:5] == b"%PDF-"
    assert versions == [] and w.diagnosis_ctl.cache.full_reads == before  # nothing re-read, nothing redrawn
    assert calls == {"show_result": 0, "clear": 0, "set_stale": 0}
    assert w.open_session(ids[3])  # patient P002: P001's result goes, the panel is cleared once
    assert w.model.diagnosis is None and calls["clear"] == 1 and calls["show_result"] == 0


def test_a_session_is_read_off_the_gui_thread_and_a_click_meanwhile_is_served(gui_window, media, analysed,
                                                                              tmp_path, monkeypatch):
    import threading
    import time

    from PySide6.QtCore import QTimer

    from facelens.core.results import SessionResults

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    first = _add_session(w.workspace, media, WOLFGANG, "P090", analysed(WOLFGANG))
    second = _add_session(w.workspace, media, SHORT, "P091", analysed(SHORT))
    real_open = SessionResults.open.__func__
    threads: list[bool] = []

    def slow_open(cls, path, verify=True):  # a long session's file: checksums and columns take a while
        threads.append(threading.current_thread() is threading.main_thread())
        time.sleep(0.4)
        return real_open(cls, path, verify)

    monkeypatch.setattr(SessionResults, "open", classmethod(slow_open))
    ticks = {"n": 0}
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.__setitem__("n", ticks["n"] + 1))
    timer.start(20)
    QTimer.singleShot(100, lambda: w.open_session(second))  # the user double-clicks another session meanwhile
    t0 = time.monotonic()
    w.open_session(first)
    elapsed = time.monotonic() - t0
    timer.stop()
    assert threads == [False, False]  # both files read in a worker, never on the GUI thread
    assert ticks["n"] >= 0.5 * elapsed / 0.020  # the event loop kept running (it was 0 ticks when read in place)
    assert w.session_id == second and w.review.state.session_id == second  # the latest request is shown
    assert w.review.data is not None and w.editor is not None and w.editor.session_id == second
