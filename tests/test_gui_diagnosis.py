"""The Diagnosis support panel and the Cohort dialog: a prediction with interval, drivers and the
"simulated" notice; a refusal with its reason; both recorded in the workspace and its audit log;
training a model from a manifest in a worker and selecting it for the panel."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_single_face.mp4"


@pytest.fixture(scope="module")
def sim_cohort(tmp_path_factory):
    from facelens.core.diagnosis.simulate import simulate_cohort

    return simulate_cohort(tmp_path_factory.mktemp("simcohort"), n_bd=8, n_mdd=8, seed=3)


def _session_with(ws, media, results: Path, segments) -> int:
    from facelens.core.workspace import RunStatus, SessionStatus

    rec = ws.import_session(media / VIDEO, "P042", scenario="elicitation video")
    out = Path(ws.results_path_for(rec.id))
    out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(results, out)
    ws.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
    ws.set_session_status(rec.id, SessionStatus.ANALYSED)
    ws.replace_segments(rec.id, segments)
    return int(rec.id)


def test_prediction_is_shown_with_interval_drivers_and_simulated_notice(gui_window, media, sim_cohort, tmp_path):
    from facelens.core.annotation.segments import read_segments_csv

    row = next(csv.DictReader(sim_cohort.open()))
    base = sim_cohort.parent
    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    sid = _session_with(w.workspace, media, base / row["results"], read_segments_csv(base / row["segments"]))
    w.session_id = sid  # the simulated series has no video frames; the panel needs only results + segments
    result = w.compute_diagnosis()
    assert hasattr(result, "probability_bd")
    lo, hi = result.interval
    assert 0.0 <= lo <= hi <= 1.0
    panel = w.diagnosis
    assert f"{result.probability_bd:.2f}" in panel.headline.text() and f"{lo:.2f}–{hi:.2f}" in panel.headline.text()
    assert panel.drivers.rowCount() == len(result.drivers) > 0
    assert not panel.notice.isHidden() and "not validated on patients" in panel.notice.text()
    rec = w.workspace.diagnoses(session_id=sid)[-1]
    assert rec.probability == pytest.approx(result.probability_bd) and rec.refusal == ""
    audit = [e.action for e in w.workspace.audit_entries()]
    assert any("diagnos" in a for a in audit)


def test_refusal_is_shown_and_recorded(gui_window, media, analysed, tmp_path):
    from facelens.core.annotation.segments import Segment

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    # 2.4 s of video: far fewer valid frames than the model needs per label.
    sid = _session_with(w.workspace, media, analysed(VIDEO), [Segment(0.0, 1.2, "happy"), Segment(1.2, 2.4, "sad")])
    assert w.open_session(sid)
    result = w.compute_diagnosis()
    assert not hasattr(result, "probability_bd")
    assert "declined" in w.diagnosis.headline.text() and "valid frames" in w.diagnosis.headline.text()
    assert w.diagnosis.drivers.rowCount() == 0
    rec = w.workspace.diagnoses(session_id=sid)[-1]
    assert rec.probability is None and rec.refusal == result.reason


def test_cohort_dialog_trains_shows_metrics_and_selects_the_model(gui_window, sim_cohort, tmp_path):
    from facelens.gui.cohort_dialog import MODEL_KEY, CohortDialog

    w = gui_window
    dlg = CohortDialog(w, w.settings)
    dlg.manifest_edit.setText(str(sim_cohort))
    dlg.out_edit.setText(str(tmp_path / "model"))
    dlg.folds_box.setValue(2)
    res = dlg.train()
    assert res is not None and (tmp_path / "model" / "model.json").is_file()
    text = dlg.results.toPlainText()
    assert "AUC" in text and "Simulated cohort" in text and "±" in text
    dlg._use_trained()
    assert w.settings.value(MODEL_KEY) == str(tmp_path / "model")
    assert not dlg.set_model(str(tmp_path))  # a folder without model.json is refused
    assert w.settings.value(MODEL_KEY) == str(tmp_path / "model")
    dlg.reject()
    w.diagnosis_ctl.show_model_name()
    assert "model" in w.diagnosis.model_label.text()


def test_cohort_dialog_reports_a_bad_manifest(gui_window, tmp_path):
    from facelens.gui.cohort_dialog import CohortDialog

    bad = tmp_path / "manifest.csv"
    bad.write_text("subject_id,diagnosis\nx,BD\n")
    dlg = CohortDialog(gui_window, gui_window.settings)
    dlg.manifest_edit.setText(str(bad))
    assert dlg.train() is None
    assert "Training failed" in dlg.results.toPlainText()
    dlg.reject()
