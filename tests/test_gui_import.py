"""Findings from driving the app as a research assistant: a file that is not a video is refused at
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
