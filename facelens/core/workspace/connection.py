"""SQLite connections for the workspace: one per thread, WAL mode, errors as one-line messages.

Rule (why one connection per thread): a ``sqlite3.Connection`` must not be used by two threads at
once. The workspace therefore opens a separate connection the first time each thread touches it;
a :class:`Workspace` object itself may be shared by the GUI thread and analysis workers. WAL mode
lets readers go on while one writer commits; writers queue on SQLite's lock for up to ``timeout_s``.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from facelens.core.workspace.records import WorkspaceError


def now_iso() -> str:
    """Current time, UTC, ISO 8601 with milliseconds (sorts as text)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@contextmanager
def translate_errors(db_path: Path) -> Iterator[None]:
    """Turn SQLite failures into :class:`WorkspaceError` with a one-line reason."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        msg = str(exc)
        if "locked" in msg or "busy" in msg:
            raise WorkspaceError(
                f"workspace {db_path.parent.name} is locked by another program; close it and retry"
            ) from None
        if "unable to open" in msg or "readonly" in msg or "disk" in msg:
            raise WorkspaceError(f"cannot write workspace {db_path}: {msg}") from None
        raise WorkspaceError(f"workspace database error: {msg}") from None
    except sqlite3.IntegrityError as exc:
        raise WorkspaceError(f"workspace refused the change: {exc}") from None
    except sqlite3.DatabaseError as exc:  # "file is not a database", "database disk image is malformed"
        raise WorkspaceError(f"workspace database {db_path.name} is corrupt or not SQLite ({exc})") from None


class Connections:
    """Hands each thread its own connection to ``db_path``; :meth:`close_all` closes them all."""

    def __init__(self, db_path: Path, timeout_s: float) -> None:
        self.db_path = db_path
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[sqlite3.Connection] = []
        self._closed = False

    def get(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        if self._closed:
            raise WorkspaceError("workspace is closed")
        with translate_errors(self.db_path):
            # isolation_level=None: we issue BEGIN/COMMIT ourselves, so every write is one explicit
            # transaction. check_same_thread=False only so that close_all() may close other threads'
            # connections at shutdown; each connection is otherwise used by its own thread only.
            conn = sqlite3.connect(
                str(self.db_path), timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            try:
                conn.execute("PRAGMA foreign_keys = ON")
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            except BaseException:
                conn.close()
                raise
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), rolled back on any exception."""
        conn = self.get()
        with translate_errors(self.db_path):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection for reads (autocommit: each SELECT sees the latest committed state)."""
        conn = self.get()
        with translate_errors(self.db_path):
            yield conn

    def release(self) -> None:
        """Close the calling thread's connection (a worker thread that is about to end)."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            return
        self._local.conn = None
        with self._lock:
            self._all = [c for c in self._all if c is not conn]
        conn.close()

    def close_all(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._all = self._all, []
        for c in conns:
            try:
                c.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()
