"""Settings and rendering: the recent-workspaces list with one entry, ``--size`` and
``--screenshot`` checks that run before anything is created, screenshot runs that leave the user's
settings alone, a broken labels.toml and an unreadable model registry that are reported, not hidden;
and the 3D view drawn offscreen (one render per change, the main window never GL-composited)."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

pytestmark = pytest.mark.gui


def test_one_recent_workspace_is_not_split_into_characters(gui_window, tmp_path):
    folder = tmp_path / "only-one"
    folder.mkdir()
    # Some QSettings back-ends (and PySide versions) hand a one-entry list back as a plain string.
    gui_window.settings.setValue("recent/workspaces", str(folder))
    assert gui_window.recent_workspaces() == [str(folder)]
    second = tmp_path / "second"
    assert gui_window.open_workspace(second)  # remembers the new one on top of the string
    want = [str(second.resolve()), str(folder)]
    assert gui_window.recent_workspaces() == want
    assert [str(x) for x in gui_window.settings.value("recent/workspaces")] == want
    assert [a.text() for a in gui_window.recent_menu.actions()] == want


def _gui_args(**kw):
    base = {"workspace": None, "demo": False, "screenshot": None, "at": None, "size": None}
    base.update(kw)
    return argparse.Namespace(**base)


@pytest.mark.parametrize("size", ["0x0", "100x50", "1920x", "x", "99999x1080", "-5x10"])
def test_gui_size_out_of_range_is_a_usage_error(size):
    from facelens.cli import UsageError
    from facelens.cli.gui import parse_size, run

    with pytest.raises(ValueError):
        parse_size(size)
    with pytest.raises(UsageError, match="--size"):
        run(_gui_args(demo=True, size=size))
    assert parse_size("1366x768") == (1366, 768)


def test_failed_screenshot_creates_no_workspace(tmp_path):
    from facelens.cli import UsageError
    from facelens.cli.gui import run

    ws = tmp_path / "new-ws"
    # Unwritable target (missing folder): refused before the workspace would be created.
    with pytest.raises(UsageError, match="does not exist"):
        run(_gui_args(workspace=str(ws), screenshot=str(tmp_path / "no" / "shot.png")))
    with pytest.raises(UsageError, match=r"\.png"):
        run(_gui_args(workspace=str(ws), screenshot=str(tmp_path / "shot.txt")))
    # A folder that is not a workspace yet: a screenshot run does not create one.
    with pytest.raises(UsageError, match="not a FaceLens workspace"):
        run(_gui_args(workspace=str(ws), screenshot=str(tmp_path / "shot.png")))
    assert not ws.exists()


def test_screenshot_run_leaves_the_user_settings_alone(gui_qapp, tmp_path, monkeypatch):
    """``run_gui(screenshot=...)`` uses throw-away settings: the default QSettings is never written."""
    from PySide6.QtCore import QSettings

    from facelens.core.workspace import Workspace
    from facelens.gui import app as gui_app

    QSettings.setPath(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, str(tmp_path / "cfg"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "cfg"))
    ws = tmp_path / "ws"
    Workspace.open(ws, create=True).close()
    shot = tmp_path / "shot.png"
    rc = gui_app.run_gui(str(ws), screenshot=str(shot), size=(800, 600))
    assert rc == 0 and shot.is_file() and shot.stat().st_size > 1000
    assert not list(tmp_path.glob(".shot.partial*"))  # written under a temporary name, then renamed
    user = QSettings()
    assert user.value("recent/workspaces") is None and user.value("window/state") is None
    assert not (tmp_path / "cfg").exists() or not any((tmp_path / "cfg").rglob("*.conf"))


def test_broken_labels_file_is_reported_in_the_status_bar(qtbot, gui_qapp, gui_settings, tmp_path, monkeypatch):
    from facelens.core.annotation import labels
    from facelens.gui.main_window import MainWindow

    bad = tmp_path / "facelens" / "labels.toml"
    bad.parent.mkdir()
    bad.write_text("[labels.happy\ncolour = ")  # not TOML
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    labels.default_label_set.cache_clear()
    try:
        w = MainWindow(gui_settings)
        w.show()
        qtbot.waitExposed(w)
        assert w.labels_warning and "labels.toml" in w.labels_warning
        assert w.labels_warning_label.isVisible() and "default labels" in w.labels_warning_label.text()
        assert "\n" not in w.labels_warning
        assert w.labels  # the defaults are still usable
        w.force_quit = True
        w.close()
    finally:
        labels.default_label_set.cache_clear()


def test_about_box_shows_the_registry_error(monkeypatch):
    from facelens.core import registry as models
    from facelens.gui.dialogs import about_html

    def broken() -> list:
        raise models.ModelError("registry.json: line 3: expected ','")

    monkeypatch.setattr(models, "cards", broken)
    html = about_html([{"id": "mediapipe-face-landmark", "version": "0.10.21"}])
    assert "could not be read" in html and "expected &#x27;,&#x27;" in html
    assert "mediapipe-face-landmark" in html  # the session's own model list is still shown


def test_3d_view_is_offscreen_one_render_per_change(gui_window, qtbot):
    from PySide6.QtOpenGLWidgets import QOpenGLWidget

    # No QOpenGLWidget inside the main window: it would GL-composite every repaint (docs/gui.md).
    assert gui_window.findChildren(QOpenGLWidget) == []
    face = gui_window.face
    qtbot.waitUntil(lambda: face.renders > 0, timeout=5000)
    before = face.renders
    from facelens.render.face_mesh import upright_from_image

    rng = np.random.default_rng(1)
    v = upright_from_image(rng.normal(size=(478, 3)).astype(np.float32) * 50 + 200)
    face.set_vertices(v)
    face.set_vertices(v * 1.01)  # two changes in one turn of the event loop: one render
    qtbot.waitUntil(lambda: face.renders > before, timeout=5000)
    qtbot.wait(50)
    assert face.renders == before + 1
    for k in range(1, 4):  # every later change renders again (VisPy's pending-update flag is re-opened)
        face.set_vertices(v * (1.0 + 0.05 * k))
        qtbot.waitUntil(lambda k=k: face.renders == before + 1 + k, timeout=5000)
    img = face.display.image
    assert img is not None and img.width() == face.display.width()


def test_segment_table_rewrites_only_the_edited_row(gui_qapp):
    from dataclasses import replace

    from facelens.core.annotation.segments import Segment
    from facelens.gui.segment_panel import COL, SegmentPanel

    t = np.arange(0, 60, 0.1)
    v = np.sin(t)
    a = np.cos(t)
    ok = np.ones(len(t), bool)
    panel = SegmentPanel(["happy", "sad", "neutral"], ["rest"])
    segs = [Segment(5.0 * k, 5.0 * k + 4.0, "happy") for k in range(6)]
    panel.set_segments(segs, t, v, a, ok)
    assert panel.row_count() == 6 and panel.rows_written == 6
    panel.set_segments(segs, t, v, a, ok)  # nothing changed: nothing rewritten
    assert panel.rows_written == 6
    segs[2] = replace(segs[2], label="sad", end_s=13.5)
    panel.set_segments(segs, t, v, a, ok)
    assert panel.rows_written == 7
    row = {panel._row_id(r): r for r in range(panel.row_count())}[segs[2].id]
    assert panel.table.item(row, COL["Label"]).text() == "sad" and panel.table.item(row, COL["End"]).text() == "13.5"
    want_n = int(((t >= segs[2].start_s) & (t < 13.5)).sum())
    assert panel.table.item(row, COL["n"]).text() == str(want_n)
    del segs[0]  # deleted: its row goes, the others stay untouched
    panel.set_segments(segs, t, v, a, ok)
    assert panel.row_count() == 5 and panel.rows_written == 7
    assert set(panel._rows_by_id()) == {s.id for s in segs}
    panel.deleteLater()
