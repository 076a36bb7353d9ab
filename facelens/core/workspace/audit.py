"""The workspace's audit log: who did what, when (mixed into :class:`Workspace`).

Every write method of the workspace adds its entry inside its own transaction, so the log and the
data can never disagree; each entry is hash-chained to the one before it (tamper evidence:
:mod:`facelens.core.workspace.audit_chain`, checked by :meth:`AuditMixin.verify_audit`);
:meth:`AuditMixin.audit` records actions that change no table (a printed report, an export).
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any

from facelens.core.workspace.audit_chain import ChainCheck, insert_entry, verify_chain
from facelens.core.workspace.connection import Connections, now_iso
from facelens.core.workspace.records import AuditEntry, WorkspaceError


class AuditMixin:
    _db: Connections
    user: str

    def _audit(self, c: sqlite3.Connection, action: str, details: dict[str, Any] | None,
               user: str | None = None) -> int:
        return insert_entry(c, now_iso(), user or self.user, action, json.dumps(details or {}, default=str))

    def verify_audit(self) -> ChainCheck:
        """Check the audit log's hash chain (:mod:`facelens.core.workspace.audit_chain`)."""
        with self._db.reading() as c:
            c.execute("BEGIN")  # one snapshot: a writer elsewhere cannot shift the rows under the walk
            try:
                return verify_chain(c)
            finally:
                c.execute("COMMIT")

    def audit(self, action: str, details: dict[str, Any] | None = None, user: str | None = None) -> AuditEntry:
        """Record an action (e.g. ``"report printed"``) in the audit log."""
        if not action.strip():
            raise WorkspaceError("audit action must not be empty")
        with self._db.transaction() as c:
            rid = self._audit(c, action, details, user)
        return self.audit_entries(since_id=rid - 1)[0]

    def audit_entries(self, action: str | None = None, limit: int | None = None,
                      since_id: int = 0) -> list[AuditEntry]:
        """Audit entries, oldest first (``limit`` keeps the newest ``limit``)."""
        sql = "SELECT * FROM audit_log WHERE id > ?"
        args: list[Any] = [since_id]
        if action:
            sql += " AND action = ?"
            args.append(action)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._db.reading() as c:
            rows = c.execute(sql, args).fetchall()
        cols = ("id", "time", "user", "action", "details")
        out = [dict(zip(cols, r)) for r in rows]
        return [AuditEntry(id=d["id"], time=d["time"], user=d["user"], action=d["action"],
                           details=json.loads(d["details"])) for d in reversed(out)]
