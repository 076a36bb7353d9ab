"""Reference cycles are collected on the GUI thread only, never by a worker thread's allocations."""
from __future__ import annotations

import gc
import threading

from facelens.gui import gc_guard

FREED_IN: list[str] = []  # names of the threads that freed a _Cycle


class _Cycle:

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        FREED_IN.append(threading.current_thread().name)


def test_a_worker_thread_never_collects_and_the_gui_timer_does(gui_qapp, qtbot):
    assert gc_guard.installed() and not gc.isenabled()
    FREED_IN.clear()
    gc.collect()
    _Cycle()  # unreachable at once, freed only by a collection

    junk: list[list] = []

    def churn() -> None:  # far past every threshold: would collect with automatic collection on
        for _ in range(20 * gc.get_threshold()[0]):
            junk.append([[]])

    worker = threading.Thread(target=churn, name="worker")
    worker.start()
    worker.join()
    assert FREED_IN == []
    qtbot.waitUntil(lambda: FREED_IN != [], timeout=5000)  # the GUI thread's timer
    assert FREED_IN == [threading.main_thread().name]
    junk.clear()


def test_uninstall_turns_automatic_collection_back_on(gui_qapp):
    gc_guard.uninstall()
    try:
        assert gc.isenabled() and not gc_guard.installed()
    finally:
        gc_guard.install(gui_qapp)
    assert not gc.isenabled()
