"""Importing and opening: a file that is not a video is refused at
import (not minutes later in the queue), a folder full of other files is not silently turned into a
workspace, and an analysis failure reason is one line."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def _answer(monkeypatch, button):
    from PySide6.QtWidgets import QMessageBox

    asked: list[str] = []
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: (asked.append(a[2]), button)[1]))
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    return asked, warned


def test_import_refuses_a_file_that_is_not_a_video(gui_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    _, warned = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    assert gui_window.open_workspace(tmp_path / "ws")
    notes = tmp_path / "notes.txt"
    notes.write_text("interview notes, not a recording")
    assert gui_window.import_session_values(notes, "P-101", scenario="conversation") is None
    assert len(warned) == 1 and "not a video" in warned[0] and "\n" not in warned[0]
    assert gui_window.workspace.list_sessions() == []  # nothing half-imported


def test_import_accepts_a_real_video(gui_window, tmp_path, media, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    _, warned = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    assert gui_window.open_workspace(tmp_path / "ws")
    sid = gui_window.import_session_values(media / "videos/pyfeat_single_face.mp4", "P-102")
    assert sid is not None and warned == []


def test_non_empty_folder_is_not_made_a_workspace_without_asking(gui_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    docs = tmp_path / "Documents"
    docs.mkdir()
    (docs / "letter.odt").write_text("x")
    asked, _ = _answer(monkeypatch, QMessageBox.StandardButton.No)
    assert not gui_window.open_workspace(docs)
    assert len(asked) == 1 and "not a FaceLens workspace" in asked[0]
    assert sorted(p.name for p in docs.iterdir()) == ["letter.odt"] and gui_window.workspace is None
    asked, _ = _answer(monkeypatch, QMessageBox.StandardButton.Yes)
    assert gui_window.open_workspace(docs) and (docs / "workspace.sqlite").is_file()
    # An existing workspace, a new folder and an empty one open without a question.
    asked, _ = _answer(monkeypatch, QMessageBox.StandardButton.No)
    assert gui_window.open_workspace(docs)
    assert gui_window.open_workspace(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    assert gui_window.open_workspace(tmp_path / "empty")
    assert asked == []


def test_failure_reason_is_one_line():
    from facelens.gui.analysis import one_line

    start_error = RuntimeError("\n        An attempt has been made to start a new process before the\n"
                               "        current process has finished its bootstrapping phase.\n")
    assert one_line(start_error) == "An attempt has been made to start a new process before the"
    assert one_line(ValueError("")) == "ValueError"
    assert one_line("a\nb") == "a"


def test_a_refused_file_keeps_the_import_dialog_and_what_was_typed(gui_window, qtbot, tmp_path):
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMessageBox

    from facelens.gui.dialogs import ImportSessionDialog

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 2048)  # named like a video, holds no video
    steps: list[str] = []

    def drive() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, ImportSessionDialog) and not steps:
            qtbot.keyClicks(box.patient_edit.lineEdit(), "P-200")
            box.notes_edit.setPlainText("first session")
            steps.append("typed")
            qtbot.mouseClick(box.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok),
                             Qt.MouseButton.LeftButton)
        elif isinstance(box, QMessageBox) and steps == ["typed"]:
            steps.append(box.text())
            qtbot.mouseClick(box.button(QMessageBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
        elif isinstance(box, ImportSessionDialog) and len(steps) == 2:
            steps.append(f"{box.patient_edit.currentText()}|{box.notes_edit.toPlainText()}")
            qtbot.mouseClick(box.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Cancel),
                             Qt.MouseButton.LeftButton)
            return
        QTimer.singleShot(50, drive)

    QTimer.singleShot(50, drive)
    assert w.import_session(bad) is None
    assert len(steps) == 3 and "Errno" not in steps[1] and steps[2] == "P-200|first session"
    assert w.workspace.list_sessions() == []


def test_an_unanalysed_session_can_be_watched(gui_window, qtbot, tmp_path, media):
    from PySide6.QtCore import Qt

    w = gui_window
    assert w.open_workspace(tmp_path / "ws")
    sid = w.import_session_values(media / "videos/pyfeat_WolfgangLanger_Pexels.mp4", "P-300")
    assert w.open_session(sid) is False  # no results yet
    qtbot.waitUntil(lambda: w.review.state.duration_s > 10.0, timeout=20000)  # length read off the GUI thread
    qtbot.waitUntil(lambda: w.video.image_time == w.video.image_time, timeout=20000)  # a frame is shown
    qtbot.mouseClick(w.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.review.playhead > 0.5 and w.video.image_time > 0.3, timeout=20000)
    w.review.pause()
    assert w.review.data.n_frames == 0 and w.face.status.text() == "not analysed yet"
