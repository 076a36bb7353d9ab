"""Starting the desktop application: the QApplication, style, settings, error hook and entry points.

``run_gui`` is what ``facelens gui`` calls. With ``screenshot`` it opens the view, waits until the
video frame, the 3D face and the plots have rendered, saves a picture of the main window and exits
(used by tests and for the README's screenshot).
"""
from __future__ import annotations

import sys
import time
import traceback
from pathlib import Path
from typing import Any

ORG, APP = "FaceLens", "FaceLens"


def create_app(argv: list[str] | None = None) -> Any:
    """The QApplication (created once), with VisPy bound to PySide6 and the FaceLens style."""
    import vispy

    vispy.use(app="pyside6")  # before any canvas exists (FACTS.md)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv or [sys.argv[0]])
        app.setOrganizationName(ORG)
        app.setApplicationName(APP)
    from facelens.gui import gc_guard

    gc_guard.install(app)  # Qt objects must never be freed by a worker thread's collection
    from facelens import __version__

    app.setApplicationVersion(__version__)
    app.setStyle("Fusion")
    try:  # checkout or installed wheel (share/facelens/resources)
        from facelens.core.common.paths import resources_dir

        res = resources_dir()
    except FileNotFoundError:  # unstyled but usable
        return app
    qss = res / "style" / "facelens.qss"
    if qss.is_file():
        app.setStyleSheet(qss.read_text(encoding="utf-8"))
    icon = res / "icons" / "facelens.svg"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    return app


def install_excepthook(window: Any) -> None:
    """Unexpected errors: the traceback goes to stderr (for the log), the user sees one clear line."""

    def hook(exc_type: type, exc: BaseException, tb: Any) -> None:
        traceback.print_exception(exc_type, exc, tb)
        from PySide6.QtWidgets import QMessageBox

        line = (str(exc).strip().splitlines() or [exc_type.__name__])[0]
        QMessageBox.critical(window, "FaceLens", f"Something went wrong: {line}\n\n"
                             "Your annotations are saved. Details are in the terminal log.")

    sys.excepthook = hook


def wait_until(predicate: Any, timeout_s: float) -> bool:
    """Process events until ``predicate()`` is true (never quits the app: FACTS.md)."""
    from PySide6.QtCore import QCoreApplication

    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        QCoreApplication.processEvents()
        if predicate():
            return True
        time.sleep(0.01)
    return bool(predicate())


def wait_rendered(window: Any, at: float, timeout_s: float = 30.0) -> bool:
    """Until the frame at ``at`` is on screen and the 3D view has drawn the mesh."""
    review = window.review
    frame_ok = lambda: review.loader is None or abs(window.video.image_time - review.playhead) < 0.2
    ok = wait_until(frame_ok, timeout_s)
    window.face.scene.canvas.native.repaint()
    wait_until(lambda: False, 0.3)  # let the GL widget and pyqtgraph paint
    return ok


def save_image_atomically(pixmap: Any, path: Path) -> bool:
    """Write the picture to a temporary name, then rename: no half-written PNG under the real name."""
    import os

    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        if not pixmap.save(str(tmp)):
            return False
        os.replace(tmp, path)
        return True
    except OSError:
        return False
    finally:
        if tmp.exists():
            tmp.unlink(missing_ok=True)


def run_gui(workspace: str | None = None, *, demo: bool = False, screenshot: str | None = None,
            at: float | None = None, size: tuple[int, int] | None = None) -> int:
    """Open the main window; returns the exit code."""
    app = create_app()
    import tempfile

    from PySide6.QtCore import QSettings

    from facelens.gui.main_window import MainWindow

    scratch = None
    if screenshot:
        # A screenshot run must not change the user's layout, recent workspaces or preferences:
        # it gets its own settings in a throw-away INI file (and so also shows the default layout).
        scratch = tempfile.TemporaryDirectory(prefix="facelens-shot-")
        settings = QSettings(str(Path(scratch.name) / "settings.ini"), QSettings.Format.IniFormat)
    else:
        settings = QSettings()
    try:
        return _run_window(app, MainWindow(settings), workspace, demo=demo, screenshot=screenshot, at=at,
                           size=size)
    finally:
        if scratch is not None:
            scratch.cleanup()


def _run_window(app: Any, window: Any, workspace: str | None, *, demo: bool, screenshot: str | None,
                at: float | None, size: tuple[int, int] | None) -> int:
    if size is not None:
        window.resize(*size)
    install_excepthook(window)
    window.show()
    app.processEvents()
    if demo:
        if not window.open_demo():
            window.force_quit = True
            window.close()
            return 1
    elif workspace:
        # A screenshot run neither creates the workspace nor resumes interrupted analyses.
        if not window.open_workspace(workspace, resume=not screenshot, create=not screenshot):
            window.force_quit = True
            window.close()
            return 2
        if screenshot:  # something worth looking at: the first analysed session
            window.open_first_session()
    else:
        window.restore_last_session()  # the workspace, session and playhead of the last run
    if at is not None:
        window.review.seek(float(at), follow=True)
    if screenshot:
        wait_rendered(window, window.review.playhead)
        ok = save_image_atomically(window.grab(), Path(screenshot))
        window.force_quit = True
        window.close()
        if not ok:
            print(f"facelens: error: cannot write the screenshot {screenshot}", file=sys.stderr)
            return 1
        return 0
    window.annotation_ctl.ask_author = True  # an interactive run asks once who is annotating
    app.aboutToQuit.connect(window.shutdown)
    return int(app.exec())
