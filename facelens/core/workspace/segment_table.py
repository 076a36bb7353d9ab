"""Annotated segments of a workspace's sessions (mixed into :class:`Workspace`).

Segments keep their :class:`~facelens.core.annotation.segments.Segment` id for life, so undo/redo, CSV round
trips and report references all point at the same row.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

from facelens.core.annotation.segments import Segment, SegmentError
from facelens.core.workspace.audit import AuditMixin
from facelens.core.workspace.connection import now_iso
from facelens.core.workspace.records import SegmentRecord, WorkspaceError

_COLS = "id, session_id, start_s, end_s, label, scenario, note, author, created, modified"


def _segment(r: tuple[Any, ...]) -> Segment:
    return Segment(start_s=r[2], end_s=r[3], label=r[4], scenario=r[5], note=r[6], author=r[7], id=r[0])


def _summary(s: Segment) -> dict[str, Any]:
    return {"segment": s.id, "start_s": s.start_s, "end_s": s.end_s, "label": s.label}


class SegmentTableMixin(AuditMixin):
    def segments(self, session_id: int) -> list[Segment]:
        """The session's segments, sorted by start time."""
        with self._db.reading() as c:
            rows = c.execute(f"SELECT {_COLS} FROM segments WHERE session_id = ? ORDER BY start_s, end_s, id",
                             (int(session_id),)).fetchall()
        return [_segment(r) for r in rows]

    def segment_record(self, segment_id: str) -> SegmentRecord | None:
        """A segment with its session and created/modified times, or None if it does not exist."""
        with self._db.reading() as c:
            r = c.execute(f"SELECT {_COLS} FROM segments WHERE id = ?", (segment_id,)).fetchone()
        if r is None:
            return None
        return SegmentRecord(segment=_segment(r), session_id=r[1], created=r[8], modified=r[9])

    def _insert(self, c: sqlite3.Connection, session_id: int, s: Segment, created: str | None) -> None:
        if c.execute("SELECT 1 FROM sessions WHERE id = ?", (session_id,)).fetchone() is None:
            raise WorkspaceError(f"no session {session_id}")
        if c.execute("SELECT 1 FROM segments WHERE id = ?", (s.id,)).fetchone() is not None:
            raise WorkspaceError(f"segment {s.id} already exists")
        now = now_iso()
        c.execute(f"INSERT INTO segments ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  (s.id, session_id, float(s.start_s), float(s.end_s), s.label, s.scenario, s.note, s.author,
                   created or now, now))

    def add_segment(self, session_id: int, segment: Segment, *, created: str | None = None) -> Segment:
        """Add a segment (``created`` restores the original time when a deletion is undone)."""
        _check(segment)
        with self._db.transaction() as c:
            self._insert(c, int(session_id), segment, created)
            self._audit(c, "segment added", {"session": int(session_id), **_summary(segment)})
        return segment

    def update_segment(self, segment: Segment) -> Segment:
        """Replace the stored segment with the same id (times, label, scenario, note, author)."""
        _check(segment)
        with self._db.transaction() as c:
            cur = c.execute(
                "UPDATE segments SET start_s = ?, end_s = ?, label = ?, scenario = ?, note = ?, author = ?,"
                " modified = ? WHERE id = ?",
                (float(segment.start_s), float(segment.end_s), segment.label, segment.scenario, segment.note,
                 segment.author, now_iso(), segment.id),
            )
            if cur.rowcount == 0:
                raise WorkspaceError(f"no segment {segment.id}")
            self._audit(c, "segment updated", _summary(segment))
        return segment

    def delete_segment(self, segment_id: str) -> SegmentRecord:
        """Delete a segment; returns what was deleted (so it can be restored)."""
        rec = self.segment_record(segment_id)
        if rec is None:
            raise WorkspaceError(f"no segment {segment_id}")
        with self._db.transaction() as c:
            c.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
            self._audit(c, "segment deleted", {"session": rec.session_id, **_summary(rec.segment)})
        return rec

    def replace_segments(self, session_id: int, segments: Iterable[Segment]) -> list[Segment]:
        """Replace all segments of a session in one transaction (e.g. a CSV import)."""
        segs = list(segments)
        for s in segs:
            _check(s)
        if len({s.id for s in segs}) != len(segs):
            raise WorkspaceError("segments to store have duplicate ids")
        with self._db.transaction() as c:
            n_old = c.execute("SELECT count(*) FROM segments WHERE session_id = ?", (int(session_id),)).fetchone()
            c.execute("DELETE FROM segments WHERE session_id = ?", (int(session_id),))
            for s in segs:
                self._insert(c, int(session_id), s, None)
            self._audit(c, "segments replaced", {"session": int(session_id), "removed": n_old[0],
                                                 "added": len(segs)})
        return self.segments(session_id)


def _check(s: Segment) -> None:
    if not isinstance(s, Segment):
        raise WorkspaceError(f"expected a Segment, got {type(s).__name__}")
    try:  # a Segment built with dataclasses.replace() skips nothing, but be explicit for stored data
        Segment(s.start_s, s.end_s, s.label)
    except SegmentError as exc:
        raise WorkspaceError(str(exc)) from None
