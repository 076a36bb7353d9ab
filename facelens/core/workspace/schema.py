"""Workspace database schema, its version and the migration hook.

``PRAGMA user_version`` holds the schema version; ``PRAGMA application_id`` marks the file as a
FaceLens workspace (so an unrelated SQLite file is refused rather than modified). To change the
schema: bump :data:`SCHEMA_VERSION` and add ``MIGRATIONS[old_version] = function(conn)`` that brings
a version-``old_version`` database to ``old_version + 1``. Migrations run inside the opening
transaction, so a failed migration leaves the file as it was.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Callable

#: "FLns" as a 32-bit integer: marks the SQLite file as a FaceLens workspace.
APPLICATION_ID = 0x464C6E73
SCHEMA_VERSION = 2  # 2: audit hash chain, analysis leases

SCHEMA_V1 = """
CREATE TABLE patients (
    id       INTEGER PRIMARY KEY,
    code     TEXT NOT NULL UNIQUE,          -- pseudonym only, never a name
    notes    TEXT NOT NULL DEFAULT '',
    created  TEXT NOT NULL
);
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    patient_id   INTEGER NOT NULL REFERENCES patients(id),
    video_path   TEXT NOT NULL,
    video_sha256 TEXT NOT NULL,
    date         TEXT NOT NULL DEFAULT '',
    scenario     TEXT NOT NULL DEFAULT 'other',
    notes        TEXT NOT NULL DEFAULT '',
    status       TEXT NOT NULL DEFAULT 'not analysed',
    progress     REAL,
    reason       TEXT NOT NULL DEFAULT '',
    created      TEXT NOT NULL,
    modified     TEXT NOT NULL
);
CREATE INDEX sessions_patient ON sessions(patient_id);
CREATE TABLE segments (
    id          TEXT PRIMARY KEY,               -- Segment.id, stable across edits and CSV round trips
    session_id  INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    start_s     REAL NOT NULL,
    end_s       REAL NOT NULL,
    label       TEXT NOT NULL,
    scenario    TEXT NOT NULL DEFAULT '',
    note        TEXT NOT NULL DEFAULT '',
    author      TEXT NOT NULL DEFAULT '',
    created     TEXT NOT NULL,
    modified    TEXT NOT NULL,
    CHECK (end_s > start_s AND start_s >= 0)
);
CREATE INDEX segments_session ON segments(session_id, start_s);
CREATE TABLE analysis_runs (
    id           INTEGER PRIMARY KEY,
    session_id   INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    results_path TEXT NOT NULL,
    params       TEXT NOT NULL DEFAULT '{}',    -- JSON
    models       TEXT NOT NULL DEFAULT '[]',    -- JSON
    started      TEXT NOT NULL,
    finished     TEXT,
    status       TEXT NOT NULL DEFAULT 'running',
    message      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_session ON analysis_runs(session_id, id);
CREATE TABLE diagnoses (
    id          INTEGER PRIMARY KEY,
    session_id  INTEGER REFERENCES sessions(id) ON DELETE CASCADE,
    patient_id  INTEGER REFERENCES patients(id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL,
    probability REAL,
    interval_lo REAL,
    interval_hi REAL,
    refusal     TEXT NOT NULL DEFAULT '',
    details     TEXT NOT NULL DEFAULT '{}',     -- JSON
    created     TEXT NOT NULL,
    CHECK (session_id IS NOT NULL OR patient_id IS NOT NULL)
);
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    time    TEXT NOT NULL,
    user    TEXT NOT NULL,
    action  TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '{}'          -- JSON
);
"""

Migration = Callable[[sqlite3.Connection], None]


def _v1_to_v2(conn: sqlite3.Connection) -> None:
    """Schema 2: a hash chain on the audit log and a lease row per session being analysed.

    Entries older than the chain are covered by one ``"audit chain started"`` entry that states
    their number and digest (see :mod:`facelens.core.workspace.audit_chain`); a new workspace has
    none, so its chain starts at its first entry.
    """
    import json

    from facelens.core.workspace.audit_chain import CHAIN_STARTED, insert_entry, unchained_digest
    from facelens.core.workspace.connection import now_iso

    conn.execute("ALTER TABLE audit_log ADD COLUMN prev_hash TEXT")
    conn.execute("ALTER TABLE audit_log ADD COLUMN hash TEXT")
    conn.execute(
        "CREATE TABLE analysis_leases (session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,"
        " holder TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL, user TEXT NOT NULL,"
        " started TEXT NOT NULL, heartbeat TEXT NOT NULL)"
    )
    n_old = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]
    if n_old:
        top = conn.execute("SELECT max(id) FROM audit_log").fetchone()[0]
        details = {"from_schema": 1, "to_schema": 2, "unchained_entries": n_old,
                   "unchained_sha256": unchained_digest(conn, top + 1)}
        insert_entry(conn, now_iso(), "facelens", CHAIN_STARTED, json.dumps(details))


#: ``MIGRATIONS[v]`` upgrades a version-``v`` database to ``v + 1``. A new workspace is created at
#: version 1 and migrated like an old one, so every migration runs on every new workspace too.
MIGRATIONS: dict[int, Migration] = {1: _v1_to_v2}


class SchemaError(Exception):
    """The file is not a FaceLens workspace or is newer than this program."""


def ensure_schema(conn: sqlite3.Connection) -> None:
    """Create or migrate the schema; the caller holds a write transaction."""
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    n_tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[0]
    if app_id == 0 and version == 0 and n_tables == 0:
        for stmt in _statements(SCHEMA_V1):
            conn.execute(stmt)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        version = 1
    elif app_id != APPLICATION_ID:
        raise SchemaError("not a FaceLens workspace database")
    if version > SCHEMA_VERSION:
        raise SchemaError(
            f"workspace schema version {version} is newer than this FaceLens supports ({SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SchemaError(f"no migration from workspace schema version {version}")
        step(conn)
        version += 1
    conn.execute(f"PRAGMA user_version = {version}")


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT the open transaction; run statement by statement instead.
    parts, buf = [], []
    for line in script.splitlines():
        code = line.split("--", 1)[0]
        buf.append(code)
        if code.rstrip().endswith(";"):
            parts.append("\n".join(buf).strip())
            buf = []
    return [p for p in parts if p]
