"""Keep the native libraries' log chatter off the console (shown again with ``facelens --verbose``).

mediapipe's C++ code and TensorFlow Lite write to file descriptor 2 directly, bypassing Python:
``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``, ``WARNING: All log messages before
absl::InitializeLog() is called are written to STDERR``, and absl-formatted lines such as
``W0000 00:00:... inference_feedback_manager.cc:114] Feedback manager requires ...`` or
``... Using NORM_RECT without IMAGE_DIMENSIONS ...``. absl's logging in mediapipe 0.10.21 reads
no environment variable for its threshold (``GLOG_minloglevel`` and ``TF_CPP_MIN_LOG_LEVEL`` were
tried; the lines still appear), so :func:`native_log_filter` filters at the descriptor: while it
is active, descriptor 2 is a pipe and a thread copies every line to the real stderr except those
above (absl lines of severity I and W; errors, E and F, still pass). Child processes started
meanwhile inherit the pipe, so their lines are filtered too. Leaving the block restores
descriptor 2 and waits until every line written before has been copied.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections.abc import Iterator

HIDDEN = (
    re.compile(rb"^INFO: Created TensorFlow Lite XNNPACK delegate"),
    re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    re.compile(rb"^[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w./-]+:\d+\] "),  # absl info / warning lines
)


def hidden(line: bytes) -> bool:
    """Whether a stderr line (bytes, without its newline) is native chatter to hide."""
    return any(p.match(line) for p in HIDDEN)


_LINE_END = re.compile(rb"[\r\n]")


def _pump(src: int, dst: int) -> None:
    """Copy ``src`` to ``dst`` without the hidden lines. A line is held back only while it may
    become one (it starts with I or W); any other text, e.g. a progress bar redrawn with a
    carriage return, is copied as soon as it arrives."""
    buf, passing = b"", False
    while True:
        try:
            chunk = os.read(src, 65536)
        except OSError:
            chunk = b""
        if not chunk:
            break
        buf += chunk
        out = []
        while (m := _LINE_END.search(buf)) is not None:
            seg, buf = buf[:m.end()], buf[m.end():]
            if passing or not hidden(seg.rstrip(b"\r\n")):
                out.append(seg)
            passing = False
        if buf and (passing or buf[:1] not in (b"I", b"W")):
            out.append(buf)
            buf, passing = b"", True
        if out:
            _write_all(dst, b"".join(out))
    if buf and not hidden(buf):
        _write_all(dst, buf)
    os.close(src)


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data):]


@contextlib.contextmanager
def native_log_filter(enabled: bool = True) -> Iterator[None]:
    """Within the block, hide the native log lines that reach descriptor 2 (no-op when
    ``enabled`` is False or descriptor 2 cannot be redirected)."""
    if not enabled:
        yield
        return
    try:
        sys.stderr.flush()
        real = os.dup(2)
        r, w = os.pipe()
        os.dup2(w, 2)
        os.close(w)
    except (OSError, ValueError, AttributeError):
        yield
        return
    thread = threading.Thread(target=_pump, args=(r, real), name="facelens-stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            sys.stderr.flush()
        os.dup2(real, 2)  # closes this process's write end: the thread sees the end of the pipe
        thread.join(timeout=2.0)  # (a child process still holding the pipe keeps it open)
        os.close(real)
