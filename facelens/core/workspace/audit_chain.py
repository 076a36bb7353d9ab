"""Hash chain of the audit log: each entry's ``hash`` covers its own fields and the previous hash.

Rule: ``hash = SHA-256(JSON [prev_hash, id, time, user, action, details])`` where ``details`` is the
stored JSON text exactly and the first chained entry has ``prev_hash = GENESIS``. Editing, deleting
or inserting any chained row therefore breaks the link at that row (or at the row after it).

Workspaces made before the chain existed (schema 1) are migrated: the migration adds one entry
``"audit chain started"`` whose details hold how many older entries there are and a SHA-256 digest
of them, so that older entries are covered too (as one block) from the migration on.

Limits (stated, not hidden): there is no secret key, so someone who rewrites the whole chain with
this rule goes unnoticed, and removing entries from the end leaves a shorter valid chain. Record the
``head`` that :func:`verify_chain` returns (e.g. in a printed report) to detect either later.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass

GENESIS = "0" * 64
CHAIN_STARTED = "audit chain started"

__all__ = ["CHAIN_STARTED", "GENESIS", "ChainCheck", "entry_hash", "insert_entry", "unchained_digest",
           "verify_chain"]


def entry_hash(prev_hash: str, rid: int, time: str, user: str, action: str, details: str) -> str:
    """The chain hash of one audit row (see the module rule)."""
    payload = json.dumps([prev_hash, int(rid), time, user, action, details], ensure_ascii=True,
                         separators=(",", ":"))
    return hashlib.sha256(payload.encode("ascii")).hexdigest()


def insert_entry(c: sqlite3.Connection, time: str, user: str, action: str, details: str) -> int:
    """Append one chained row; the caller holds the write transaction (so the chain head is stable)."""
    row = c.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
    prev = row[1] if row is not None and row[1] else GENESIS
    rid = (int(row[0]) if row is not None else 0) + 1
    h = entry_hash(prev, rid, time, user, action, details)
    c.execute("INSERT INTO audit_log (id, time, user, action, details, prev_hash, hash)"
              " VALUES (?, ?, ?, ?, ?, ?, ?)", (rid, time, user, action, details, prev, h))
    return rid


def unchained_digest(c: sqlite3.Connection, before_id: int) -> str:
    """SHA-256 over every audit row with ``id < before_id`` (the entries older than the chain)."""
    h = hashlib.sha256()
    for r in c.execute("SELECT id, time, user, action, details FROM audit_log WHERE id < ? ORDER BY id",
                       (int(before_id),)):
        h.update(json.dumps(list(r), ensure_ascii=True, separators=(",", ":")).encode("ascii"))
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of :func:`verify_chain`.

    ``first_broken`` is the id of the first entry whose link does not hold (None when intact);
    ``chain_start`` the first chained entry; ``unchained`` how many older entries the migration
    entry covers as one block; ``head`` the last entry's hash.
    """

    ok: bool
    entries: int
    chain_start: int | None
    unchained: int
    head: str
    first_broken: int | None = None
    reason: str = ""


def verify_chain(c: sqlite3.Connection) -> ChainCheck:
    """Walk the audit log oldest first and report the first broken link."""
    rows = c.execute("SELECT id, time, user, action, details, prev_hash, hash FROM audit_log ORDER BY id").fetchall()
    start = next((i for i, r in enumerate(rows) if r[6] is not None), None)
    if start is None:
        return ChainCheck(not rows, len(rows), None, len(rows), GENESIS,
                          rows[0][0] if rows else None, "" if not rows else "no entry carries a hash")
    n_old = start
    prev, expected_id = GENESIS, rows[start][0]

    def broken(rid: int, why: str) -> ChainCheck:
        return ChainCheck(False, len(rows), rows[start][0], n_old, prev, rid, why)

    first = rows[start]
    if n_old:  # older, unchained rows: the migration entry must describe exactly them
        try:
            info = json.loads(first[4]) if first[3] == CHAIN_STARTED else {}
        except json.JSONDecodeError:
            info = {}
        if info.get("unchained_entries") != n_old or info.get("unchained_sha256") != unchained_digest(c, first[0]):
            return broken(rows[0][0], "entries older than the chain (or their hashes) were changed, "
                                      "added or removed")
    for rid, time, user, action, details, prev_hash, h in rows[start:]:
        if rid != expected_id:
            return broken(rid, f"entry #{expected_id} is missing")
        if h is None or prev_hash != prev:
            return broken(rid, "does not link to the entry before it (an entry was removed, added or edited)")
        if entry_hash(prev_hash, rid, time, user, action, details) != h:
            return broken(rid, "its content does not match its hash (the entry was edited)")
        prev, expected_id = h, rid + 1
    return ChainCheck(True, len(rows), rows[start][0], n_old, prev)
