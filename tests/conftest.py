"""Shared fixtures: the real recordings in ../shared/media and cached analyses of them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _media_dir() -> Path:
    env = os.environ.get("FACELENS_MEDIA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "media", REPO.parent.parent / "shared" / "media"]
    for c in candidates:
        if (c / "videos").is_dir():
            return c
    raise RuntimeError("test media not found: set FACELENS_MEDIA or put shared/media beside the repository")


@pytest.fixture(scope="session")
def media() -> Path:
    """Folder with videos/, images/ and reference/ (never copied into the repository)."""
    return _media_dir()


@pytest.fixture(scope="session")
def analysed(tmp_path_factory, media):
    """Factory: ``analysed("videos/pyfeat_single_face.mp4")`` -> path of its results file.

    Each recording is analysed once per test session at 10 fps with the default pipeline.
    """
    from facelens.core.analysis.pipeline import analyze_to_file

    cache: dict[str, Path] = {}
    root = tmp_path_factory.mktemp("analyses")

    def get(rel: str) -> Path:
        if rel not in cache:
            out = root / (Path(rel).stem + ".h5")
            analyze_to_file(media / rel, out, fps=10.0)
            cache[rel] = out
        return cache[rel]

    return get


@pytest.fixture(scope="session")
def add_analysed(media, analysed):
    """Factory: ``add_analysed(workspace, "videos/x.mp4", "P001")`` imports the recording into an open
    workspace with its (cached) analysis as a complete run -> (session id, results path)."""
    from _gui_sessions import add_session

    def add(workspace, rel: str, patient: str) -> tuple[int, Path]:
        return add_session(workspace, media / rel, patient, analysed(rel))

    return add


@pytest.fixture(scope="session")
def demo_session(tmp_path_factory):
    """The embedded synthetic demo session, built and analysed once: (video, results, script)."""
    from facelens.core.demo.session import build_demo

    out = tmp_path_factory.mktemp("demo")
    return build_demo(out)


# -- shared GUI fixtures ------------------------------------------------------------------------
@pytest.fixture
def gui_settings(tmp_path):
    """A QSettings in a temporary INI file: tests never touch the user's preferences."""
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def gui_qapp(qapp):
    """The pytest-qt QApplication with VisPy bound to PySide6 (must happen before any canvas)."""
    import vispy

    vispy.use(app="pyside6")
    from facelens.gui import gc_guard

    gc_guard.install(qapp)  # as create_app does: no collection in worker threads
    yield qapp
    gc_guard.uninstall()  # collects here, so no later test's worker thread frees this test's widgets


@pytest.fixture
def gui_window(qtbot, gui_qapp, gui_settings):
    """An open main window (1400×900); closed after the test, with no analysis or decoder left running."""
    from facelens.gui.main_window import MainWindow

    w = MainWindow(gui_settings)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.force_quit = True
    w.close()
    qtbot.waitUntil(lambda: not w.isVisible(), timeout=5000)
    assert w.queue.running is None
    assert w.review.loader is None
