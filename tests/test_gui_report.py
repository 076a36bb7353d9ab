"""Long jobs off the GUI thread (progress, cancel, errors) and "Export report…" from the GUI for a real
analysed recording with segments: the PDF, its audit entry, the dialog's options and the page preview."""
from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

VIDEO = "videos/pyfeat_single_face.mp4"  # 2.4 s, one face


@pytest.fixture
def workspace_with_segments(tmp_path, media, analysed):
    from facelens.core.annotation.segments import Segment
    from facelens.core.workspace import RunStatus, SessionStatus, Workspace

    folder = tmp_path / "ws"
    with Workspace.open(folder, create=True) as ws:
        rec = ws.import_session(media / VIDEO, "P017", date="2026-03-04", scenario="elicitation video")
        out = Path(ws.results_path_for(rec.id))
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(analysed(VIDEO), out)
        ws.record_run(rec.id, out, {}, [], status=RunStatus.COMPLETE)
        ws.set_session_status(rec.id, SessionStatus.ANALYSED)
        ws.replace_segments(rec.id, [Segment(0.0, 1.2, "happy", author="RA1"), Segment(1.2, 2.4, "sad")])
    return folder, rec.id


def test_run_job_returns_reports_progress_and_keeps_the_event_loop_running(gui_qapp):
    from PySide6.QtCore import QTimer

    from facelens.gui.jobs import run_job

    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(10)
    main = threading.get_ident()

    def fn(report, cancelled):
        for i in range(5):
            report(i / 5, f"step {i}")
            time.sleep(0.05)
        return threading.get_ident()

    worker_thread = run_job(None, "test", fn, min_duration_ms=0)
    timer.stop()
    assert worker_thread != main  # it ran in a worker
    assert len(ticks) >= 5  # the GUI thread's timers kept firing meanwhile


def test_run_job_cancel_and_failure(gui_qapp):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QProgressDialog, QPushButton

    from facelens.gui.jobs import JobCancelled, JobFailed, run_job

    def forever(report, cancelled):
        while not cancelled():
            time.sleep(0.01)
        raise JobCancelled()

    def press_cancel():
        for w in QApplication.topLevelWidgets():
            if isinstance(w, QProgressDialog) and w.isVisible():
                w.findChild(QPushButton).click()  # the user's click on Cancel
                return
        QTimer.singleShot(20, press_cancel)

    QTimer.singleShot(50, press_cancel)
    with pytest.raises(JobCancelled):
        run_job(None, "test", forever, min_duration_ms=0)

    def broken(report, cancelled):
        raise OSError("disk full\nmore detail")

    with pytest.raises(JobFailed, match="^disk full$"):
        run_job(None, "test", broken)


def test_run_process_reports_the_child_error_line(gui_qapp):
    from facelens.gui.jobs import JobFailed, run_process

    with pytest.raises(JobFailed, match="duration"):
        run_process(["demo", "--duration", "1"], lambda: False, lambda f, m: None, "x")


def test_export_report_from_the_gui(qtbot, gui_window, workspace_with_segments, tmp_path):
    from facelens.report import AUDIT_ACTION

    folder, sid = workspace_with_segments
    w = gui_window
    assert w.report_action.isEnabled()
    assert w.open_workspace(folder) and w.open_session(sid)
    out = tmp_path / "out" / "report.pdf"
    out.parent.mkdir()
    path = w.write_report(out, page_size="Letter", include_identifying=False, use_model=True)
    assert path == out and out.read_bytes()[:5] == b"%PDF-"
    assert not list(out.parent.glob("*.tmp*")) and not list(out.parent.glob("*partial*"))
    entries = w.workspace.audit_entries(action=AUDIT_ACTION)
    assert entries and entries[-1].details["session"] == sid
    assert entries[-1].details["page_size"] == "Letter"
    assert entries[-1].details["identifying_fields"] is False

    from facelens.gui.report_dialog import ReportPreview, render_pages

    if shutil.which("pdftoppm"):
        pages = render_pages(out, tmp_path)
        assert 1 <= len(pages) <= 2
        dlg = ReportPreview(w, out)
        assert dlg.pages and not dlg.findChildren(type(w.time_label), "reportPage")[0].pixmap().isNull()
        dlg.reject()


def test_report_dialog_options_and_validation(gui_qapp, gui_settings, tmp_path):
    from facelens.gui.report_dialog import ReportDialog

    dlg = ReportDialog(None, gui_settings, "r.pdf")
    dlg.path_edit.setText(str(tmp_path / "missing-folder" / "r.pdf"))
    dlg._accept()
    assert "does not exist" in dlg.error_label.text() and dlg.result() == 0
    dlg.path_edit.setText(str(tmp_path / "r.pdf"))
    dlg.page_box.setCurrentText("Letter")
    dlg.identifying_box.setChecked(True)
    dlg._accept()
    v = dlg.values()
    assert v == {"out": str(tmp_path / "r.pdf"), "page_size": "Letter", "include_identifying": False,
                 "use_model": True, "clinician": "", "interpretation": "", "signed_by": ""}
    assert gui_settings.value("report/page_size") == "Letter"  # remembered for the next export


def test_export_without_a_session_says_so(gui_window, monkeypatch):
    from facelens.gui.controllers import report as report_ctl

    messages = []
    monkeypatch.setattr(report_ctl, "show_error", lambda parent, title, msg: messages.append(msg))
    assert gui_window.export_report() is None
    assert messages == ["Open an analysed session first."]
