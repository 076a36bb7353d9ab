"""Help → Keyboard shortcuts lists the real key bindings; every control explains itself with a tooltip;
the style sheet comes from ``core.paths.resources_dir()``; the demo is prepared in a child process."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_shortcuts_dialog_lists_the_window_keys(gui_window):
    from facelens.gui.dialogs import ShortcutsDialog

    dlg = ShortcutsDialog(gui_window, gui_window.actions())
    rows = dict(dlg.rows)
    assert rows["Play / pause"] == "Space"
    assert rows["Previous frame"] == "Left" and rows["Forward one second"] == "Shift+Right"
    assert "Ctrl+Shift+Z" in rows["Redo"] and rows["Segment start at playhead"] == "["
    assert "Keyboard shortcuts" in rows and "Compute BD-vs-MDD support" in rows
    dlg.reject()


def test_every_control_has_a_tooltip(gui_window):
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QLineEdit, QWidget

    missing = []
    for wid in gui_window.findChildren(QWidget):
        if not wid.isVisible() or isinstance(wid.parent(), QComboBox):
            continue
        ours = (isinstance(wid, QAbstractButton) and wid.text()) or isinstance(wid, (QComboBox, QLineEdit))
        if ours and not wid.toolTip():  # Qt's own text-less buttons (dock titles) are not ours
            missing.append(f"{type(wid).__name__} {getattr(wid, 'text', lambda: '')()!r} in {type(wid.parent()).__name__}")
    assert not missing, missing


def test_style_comes_from_the_resources_folder(gui_qapp, monkeypatch, tmp_path):
    from facelens.gui.app import create_app

    (tmp_path / "style").mkdir()
    (tmp_path / "style" / "facelens.qss").write_text("QLabel#probe { color: #123456; }")
    monkeypatch.setenv("FACELENS_RESOURCES", str(tmp_path))
    old = gui_qapp.styleSheet()
    try:
        assert "#123456" in create_app().styleSheet()
    finally:
        gui_qapp.setStyleSheet(old)


def test_demo_preparation_failure_is_one_line_and_leaves_the_window_usable(gui_window, monkeypatch):
    from facelens.gui import demo_loader
    from facelens.gui.controllers import workspace as workspace_ctl
    from facelens.gui.jobs import JobFailed

    def fail(report, cancelled, out_dir=None):
        raise JobFailed("no face found on the portrait")

    messages = []
    monkeypatch.setattr(demo_loader, "prepare_demo_in_worker", fail)
    monkeypatch.setattr(workspace_ctl, "show_error", lambda parent, title, msg: messages.append(msg))
    assert gui_window.open_demo() is False
    assert messages == ["The demo session could not be prepared: no face found on the portrait"]
    assert gui_window.workspace is None


def test_demo_opens_in_the_window(gui_window, demo_session, monkeypatch, tmp_path):
    """What ``make run`` does: File ▸ Open demo builds (here: reuses) the demo, opens its workspace and
    shows its session."""
    import shutil

    from facelens.gui import demo_loader

    folder = tmp_path / "demo"
    shutil.copytree(demo_session.video.parent, folder)  # the demo's workspace is made beside its files

    def prepared(report, cancelled, out_dir=None):
        return demo_loader.load_demo(lambda *a, **k: None, folder)

    monkeypatch.setattr(demo_loader, "prepare_demo_in_worker", prepared)
    assert gui_window.open_demo() is True
    assert gui_window.workspace is not None and gui_window.model.session_id is not None
