"""Python's cyclic garbage collector runs on the GUI thread only.

The collector runs in whichever thread happens to allocate when its thresholds are passed. In a
worker thread (the report writer, the results reader, the analysis) it may free the last
reference cycle holding a Qt object that lives in the GUI thread; Qt then destroys that object
from the wrong thread and aborts the process (seen in the test suite: "Fatal Python error:
Aborted" while a worker was "Garbage-collecting" during a report). So automatic collection is
switched off while the application runs and a GUI-thread timer collects instead, with the same
thresholds, checked twice a second. Reference counting (which frees almost everything) is not
affected; only cycles wait up to half a second longer.
"""
from __future__ import annotations

import gc
from typing import Any

_CHECK_MS = 500
_guard: Any = None


def install(app: Any) -> None:
    """Collect on ``app``'s thread from now on (idempotent)."""
    global _guard
    if _guard is not None:
        return
    from PySide6.QtCore import QTimer

    gc.disable()
    timer = QTimer(app)
    timer.setInterval(_CHECK_MS)
    timer.timeout.connect(collect_due)
    timer.start()
    app.aboutToQuit.connect(uninstall)
    _guard = timer


def collect_due() -> None:
    """One collection of the oldest generation whose allocation count passed its threshold."""
    counts, limits = gc.get_count(), gc.get_threshold()
    for generation in (2, 1, 0):
        if counts[generation] > limits[generation]:
            gc.collect(generation)
            return


def uninstall() -> None:
    """Automatic collection back on (the application is quitting)."""
    global _guard
    if _guard is not None:
        _guard.stop()
        _guard.deleteLater()
        _guard = None
    gc.collect()  # on this (the GUI) thread, before worker threads may collect again
    gc.enable()


def installed() -> bool:
    return _guard is not None
