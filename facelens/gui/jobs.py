"""Long one-off jobs off the GUI thread (demo build, hashing a video, report, cohort training).

``run_job(parent, title, fn)`` starts ``fn(report, cancelled)`` in a :class:`JobThread`, shows a
progress dialog with *Cancel*, and spins a local event loop until the job ends, so the window keeps
repainting and answering while the caller still gets a plain return value. ``fn`` calls
``report(fraction, message)`` (fraction NaN: unknown) and checks ``cancelled()`` between steps,
raising :class:`JobCancelled` to stop. Results and errors cross threads through signals only.

Work that cannot check a flag (the demo build) runs in a child process (:func:`run_process`), which
Cancel terminates.
"""
from __future__ import annotations

import math
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEventLoop, QThread, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog, QWidget

Report = Callable[[float, str], None]
Cancelled = Callable[[], bool]


class JobCancelled(Exception):
    """Raised inside a job when the user pressed Cancel."""


class JobFailed(Exception):
    """A job ended with an error; the message is one line for the user."""


class JobThread(QThread):
    """Runs ``fn(report, cancelled)`` once; ``succeeded(result)``, ``failed(line)`` or ``cancelled_``."""

    progressed = Signal(float, str)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled_ = Signal()

    def __init__(self, fn: Callable[[Report, Cancelled], Any]) -> None:
        super().__init__()
        self.fn = fn
        self._cancel = False
        self._last_emit = 0.0

    def cancel(self) -> None:
        self._cancel = True

    def is_cancelled(self) -> bool:
        return self._cancel

    def _report(self, fraction: float, message: str) -> None:
        # Coalesced to ~10 per second: a flood of queued signals would itself stall the GUI thread.
        now = time.monotonic()
        if now - self._last_emit >= 0.1 or fraction >= 1.0:
            self._last_emit = now
            self.progressed.emit(float(fraction), str(message))

    def run(self) -> None:  # worker thread
        try:
            result = self.fn(self._report, self.is_cancelled)
        except JobCancelled:
            self.cancelled_.emit()
        except Exception as exc:  # noqa: BLE001 - becomes a one-line message; the trace goes to the log
            traceback.print_exc()
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            self.failed.emit(line)
        else:
            if self._cancel:
                self.cancelled_.emit()
            else:
                self.succeeded.emit(result)


def run_job(parent: QWidget | None, title: str, fn: Callable[[Report, Cancelled], Any], *,
            label: str = "", cancellable: bool = True, min_duration_ms: int = 300) -> Any:
    """Run ``fn`` in a worker with a progress dialog; return its result.

    Raises
    ------
    JobCancelled
        The user pressed Cancel (the worker has stopped when this is raised).
    JobFailed
        ``fn`` raised; the message is its first line.
    """
    dlg = QProgressDialog(label or title, "Cancel" if cancellable else "", 0, 0, parent)
    dlg.setWindowTitle(title)
    dlg.setMinimumDuration(min_duration_ms)  # quick jobs finish before any dialog flashes up
    dlg.setAutoClose(False)
    dlg.setAutoReset(False)
    dlg.setMinimumWidth(460)
    if not cancellable:
        dlg.setCancelButton(None)
    thread = JobThread(fn)
    outcome: dict[str, Any] = {}
    loop = QEventLoop()
    t0 = time.monotonic()

    def on_progress(fraction: float, message: str) -> None:
        if math.isfinite(fraction):
            dlg.setMaximum(1000)
            dlg.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))
        if message:
            dlg.setLabelText(f"{message}\n({time.monotonic() - t0:.0f} s)")

    thread.progressed.connect(on_progress)
    thread.succeeded.connect(lambda r: outcome.setdefault("result", r))
    thread.failed.connect(lambda m: outcome.setdefault("error", m))
    thread.cancelled_.connect(lambda: outcome.setdefault("cancelled", True))
    thread.finished.connect(loop.quit)
    dlg.canceled.connect(thread.cancel)
    dlg.canceled.connect(lambda: dlg.setLabelText("Cancelling…"))
    # QProgressDialog shows itself only from setValue(); a busy (indeterminate) job never calls it.
    show_timer = QTimer()
    show_timer.setSingleShot(True)
    show_timer.timeout.connect(dlg.show)
    show_timer.start(max(0, min_duration_ms))
    thread.start()
    if thread.isRunning():
        loop.exec()
    thread.wait()
    # Signals queued just before ``finished`` are delivered by now; pick up any stragglers.
    QCoreApplication.processEvents()
    dlg.reset()
    dlg.close()
    dlg.deleteLater()
    thread.deleteLater()
    if "error" in outcome:
        raise JobFailed(outcome["error"])
    if "cancelled" in outcome or "result" not in outcome:
        raise JobCancelled()
    return outcome["result"]


def run_process(args: Sequence[str], cancelled: Cancelled, report: Report, message: str,
                expected_s: float = 0.0, cwd: Path | None = None) -> str:
    """Run ``python -m facelens ARGS`` as a child process; Cancel terminates it.

    Progress is the elapsed time over ``expected_s`` (capped at 95 %) since the child prints none.
    Returns its standard output; raises :class:`JobFailed` with its last error line on failure.
    """
    cmd = [sys.executable, "-m", "facelens", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    t0 = time.monotonic()
    try:
        while proc.poll() is None:
            if cancelled():
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                raise JobCancelled()
            el = time.monotonic() - t0
            report(min(0.95, el / expected_s) if expected_s > 0 else math.nan, message)
            time.sleep(0.1)
        out, err = proc.communicate()
    finally:
        if proc.poll() is None:  # an unexpected error above: never leave the child running
            proc.kill()
            proc.wait()
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (err or "").splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise JobFailed(last.removeprefix("facelens: error: "))
    return out


def hash_file(path: Path, report: Report, cancelled: Cancelled, chunk: int = 1 << 22) -> str:
    """SHA-256 of a (possibly large) video with progress and Cancel, for importing it."""
    import hashlib

    h = hashlib.sha256()
    size = max(1, path.stat().st_size)
    done = 0
    with path.open("rb") as f:
        while block := f.read(chunk):
            if cancelled():
                raise JobCancelled()
            h.update(block)
            done += len(block)
            report(done / size, f"Checking {path.name} ({done / 1e6:.0f} of {size / 1e6:.0f} MB)")
    return h.hexdigest()
