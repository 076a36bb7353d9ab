"""Two programs on one workspace: no corruption (WAL + busy timeout), and a session being analysed by
one is refused, with the holder named, by the other; a killed holder's lease is taken over.

``FACELENS_SAFETY_TRIALS`` (default 1) repeats the multi-process trials; the 10-trial run is
``FACELENS_SAFETY_TRIALS=10 pytest tests/test_safety_concurrency.py``.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from facelens.core.workspace import SessionStatus, Workspace, WorkspaceError

TRIALS = int(os.environ.get("FACELENS_SAFETY_TRIALS", "1"))
N_WRITES = 60  # per writer process

_WRITER = textwrap.dedent("""
    import sys
    from facelens.core.annotation.segments import Segment
    from facelens.core.workspace import Workspace
    folder, sid, tag, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    with Workspace.open(folder, create=False, user=tag, timeout_s=30.0) as ws:
        for i in range(n):
            seg = ws.add_segment(sid, Segment(float(i), float(i) + 0.5, "happy", note=tag))
            ws.update_segment(seg.moved(float(i), float(i) + 0.75))
            ws.audit("report printed", {"writer": tag, "i": i})
""")

_HOLDER = textwrap.dedent("""
    import sys
    from facelens.core.workspace import Workspace
    ws = Workspace.open(sys.argv[1], create=False, user="other-user")
    ws.set_session_status(int(sys.argv[2]), "analysing", progress=0.1)
    print("holding", flush=True)
    sys.stdin.read()  # until killed
""")


def _python(code: str, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], **kw)


@pytest.fixture
def ws_session(tmp_path: Path) -> tuple[Path, int]:
    video = tmp_path / "v.mp4"
    video.write_bytes(os.urandom(2048))
    with Workspace.open(tmp_path / "ws", user="ra1") as ws:
        sid = ws.import_session(video, "P001").id
    return tmp_path / "ws", sid


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_two_writers_never_corrupt_the_workspace(ws_session, trial: int) -> None:
    folder, sid = ws_session
    procs = [_python(_WRITER, str(folder), str(sid), tag, str(N_WRITES), stderr=subprocess.PIPE)
             for tag in ("app-a", "app-b")]
    errs = [p.communicate(timeout=300)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    raw = sqlite3.connect(folder / "workspace.sqlite")
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()
    with Workspace.open(folder, create=False) as ws:
        segs = ws.segments(sid)
        assert len(segs) == 2 * N_WRITES and all(s.end_s - s.start_s == 0.75 for s in segs)
        assert {s.note for s in segs} == {"app-a", "app-b"}
        check = ws.verify_audit()
        assert check.ok, check  # the hash chain stays linear with two writers interleaving
        assert len(ws.audit_entries(action="report printed")) == 2 * N_WRITES


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(TRIALS))
def test_session_analysed_elsewhere_is_refused_then_taken_over(ws_session, trial: int) -> None:
    folder, sid = ws_session
    holder = _python(_HOLDER, str(folder), str(sid), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        with Workspace.open(folder, create=False, user="ra1") as ws:
            assert ws.interrupted_sessions() == []  # running elsewhere: not offered for resume
            lease = ws.analysed_elsewhere(sid)
            assert lease is not None and lease.pid == holder.pid and lease.user == "other-user"
            for status in (SessionStatus.QUEUED, SessionStatus.ANALYSING, SessionStatus.NOT_ANALYSED):
                with pytest.raises(WorkspaceError) as e:
                    ws.set_session_status(sid, status)
                msg = str(e.value)
                assert "\n" not in msg and "another FaceLens" in msg and f"process {holder.pid}" in msg
            assert ws.get_session(sid).status is SessionStatus.ANALYSING  # untouched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with Workspace.open(folder, create=False, user="ra1") as ws:  # the holder died: its lease is stale
        assert [s.id for s in ws.interrupted_sessions()] == [sid] and ws.analysed_elsewhere(sid) is None
        ws.set_session_status(sid, SessionStatus.ANALYSING, progress=0.0)
        ws.set_session_status(sid, SessionStatus.ANALYSED)
    with Workspace.open(folder, create=False) as ws:
        assert ws.verify_audit().ok


def test_lease_is_released_on_close_and_status_change(ws_session) -> None:
    folder, sid = ws_session
    a = Workspace.open(folder, create=False)
    b = Workspace.open(folder, create=False)
    try:
        a.set_session_status(sid, "queued", progress=0.0)
        with pytest.raises(WorkspaceError, match="another FaceLens"):
            b.set_session_status(sid, "queued", progress=0.0)
        a.set_session_status(sid, "failed", reason="decoder error")  # drops the lease
        b.set_session_status(sid, "queued", progress=0.0)
        b.close()  # closing drops it too
        a.set_session_status(sid, "analysing", progress=0.0)
    finally:
        a.close()
        b.close()


@pytest.mark.gui
def test_gui_says_when_a_session_is_analysed_in_another_program(gui_window, ws_session, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    folder, sid = ws_session
    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    holder = _python(_HOLDER, str(folder), str(sid), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"holding"
        assert gui_window.open_workspace(folder, create=False)
        assert gui_window.queue.running is None and not gui_window.queue.is_busy()  # not "resumed" here
        gui_window.analyse(sid)
        assert len(warned) == 1 and "another FaceLens" in warned[0] and f"process {holder.pid}" in warned[0]
        assert not gui_window.queue.is_busy()
        assert gui_window.workspace.get_session(sid).status is SessionStatus.ANALYSING  # the other's status
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
