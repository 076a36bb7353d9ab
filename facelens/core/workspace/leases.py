"""Analysis leases: one row per session being queued or analysed, naming the program that does it.

Two FaceLens windows (or a window and a script) may open one workspace at the same time. SQLite in
WAL mode with a busy timeout keeps the database consistent; the lease keeps them from analysing one
session into one ``.partial`` file together. :class:`LeaseMixin` claims the lease when a session
becomes "queued"/"analysing", refreshes it with every progress update and drops it on any other
status and on :meth:`Workspace.close`.

A lease is *live* when its process still runs (same machine: ``os.kill(pid, 0)``) or, for a
program on another machine sharing the folder, when its heartbeat is younger than
:data:`REMOTE_STALE_S`. A lease left by a killed program is therefore taken over, not obeyed.
"""
from __future__ import annotations

import os
import secrets
import socket
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from facelens.core.workspace.connection import now_iso

REMOTE_STALE_S = 600.0  # a program on another machine that has not reported for 10 minutes is gone

__all__ = ["REMOTE_STALE_S", "Lease", "LeaseHeld", "new_holder"]


class LeaseHeld(Exception):
    """The session is being analysed by another live program (message: one line naming it)."""


@dataclass(frozen=True)
class Lease:
    session_id: int
    holder: str
    host: str
    pid: int
    user: str
    started: str
    heartbeat: str

    def describe(self) -> str:
        return f"by {self.user} on {self.host} (process {self.pid}) since {self.started[:19].replace('T', ' ')} UTC"


def new_holder() -> str:
    """A holder name unique to one open :class:`Workspace` object (host, process, random token)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    except OSError:
        return False
    return True


def is_live(lease: Lease, now: datetime | None = None) -> bool:
    """Whether the lease's holder may still be working (see the module notes)."""
    if lease.host == socket.gethostname():
        return _pid_alive(lease.pid)
    try:
        beat = datetime.fromisoformat(lease.heartbeat)
    except ValueError:
        return False
    now = now or datetime.fromisoformat(now_iso())
    return (now - beat).total_seconds() < REMOTE_STALE_S


def get_lease(c: sqlite3.Connection, session_id: int) -> Lease | None:
    r = c.execute("SELECT session_id, holder, host, pid, user, started, heartbeat FROM analysis_leases"
                  " WHERE session_id = ?", (int(session_id),)).fetchone()
    return None if r is None else Lease(int(r[0]), r[1], r[2], int(r[3]), r[4], r[5], r[6])


def foreign_live_lease(c: sqlite3.Connection, session_id: int, holder: str) -> Lease | None:
    """The lease of ``session_id`` when another live program holds it, else None."""
    lease = get_lease(c, session_id)
    if lease is None or lease.holder == holder or not is_live(lease):
        return None
    return lease


def claim(c: sqlite3.Connection, session_id: int, holder: str, user: str) -> None:
    """Take or refresh the lease (caller holds the write transaction). Raises :class:`LeaseHeld`."""
    other = foreign_live_lease(c, session_id, holder)
    if other is not None:
        raise LeaseHeld(f"session #{session_id} is being analysed in another FaceLens {other.describe()}; "
                        "wait for it or close that program")
    now = now_iso()
    mine = get_lease(c, session_id)
    if mine is not None and mine.holder == holder:
        c.execute("UPDATE analysis_leases SET heartbeat = ? WHERE session_id = ?", (now, int(session_id)))
        return
    c.execute("INSERT OR REPLACE INTO analysis_leases (session_id, holder, host, pid, user, started, heartbeat)"
              " VALUES (?, ?, ?, ?, ?, ?, ?)",
              (int(session_id), holder, socket.gethostname(), os.getpid(), user, now, now))


def release(c: sqlite3.Connection, session_id: int | None, holder: str) -> None:
    """Drop this holder's lease of ``session_id`` (all of its leases when None)."""
    if session_id is None:
        c.execute("DELETE FROM analysis_leases WHERE holder = ?", (holder,))
    else:
        c.execute("DELETE FROM analysis_leases WHERE session_id = ? AND holder = ?", (int(session_id), holder))
