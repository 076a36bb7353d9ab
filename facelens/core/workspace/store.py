"""The :class:`Workspace`: a folder with ``workspace.sqlite`` (WAL) and ``analyses/`` (results files)."""
from __future__ import annotations

import datetime as _dt
import getpass
import hashlib
import sqlite3
from pathlib import Path

from facelens.core.common.atomic import create_private_file, make_private_dirs
from facelens.core.common.paths import user_path
from facelens.core.workspace import leases
from facelens.core.workspace.connection import Connections, now_iso, translate_errors
from facelens.core.workspace.files import owner_only
from facelens.core.workspace.records import (
    Patient,
    SessionRecord,
    SessionStatus,
    WorkspaceError,
    check_pseudonym,
)
from facelens.core.workspace.runs import RunsMixin
from facelens.core.workspace.schema import SchemaError, ensure_schema
from facelens.core.workspace.segment_table import SegmentTableMixin

DB_NAME = "workspace.sqlite"
ANALYSES_DIR = "analyses"
_SESSION_SELECT = (
    "SELECT s.*, p.code AS patient_code FROM sessions s JOIN patients p ON p.id = s.patient_id"
)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (a long video is never held in memory)."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some sandboxes/services
        return "unknown"


class Workspace(SegmentTableMixin, RunsMixin):
    """A FaceLens workspace. Create with :meth:`open`; close with :meth:`close` (or ``with``)."""

    def __init__(self, folder: Path, db: Connections, user: str, interrupted: list[int], holder: str) -> None:
        self.folder = folder
        self.db_path = folder / DB_NAME
        self.analyses_dir = folder / ANALYSES_DIR
        self.user = user
        self._db = db
        self._interrupted = interrupted
        self._holder = holder

    # ------------------------------------------------------------------ opening and closing
    @classmethod
    def open(
        cls, folder: str | Path, create: bool = True, *, user: str | None = None, timeout_s: float = 5.0
    ) -> Workspace:
        """Open (or create) the workspace in ``folder``.

        Parameters
        ----------
        folder : str or Path
            The workspace folder.
        create : bool
            Create the folder and database when missing; with ``False`` a folder without
            ``workspace.sqlite`` is an error.
        user : str, optional
            Name written to the audit log (default: the login name).
        timeout_s : float
            How long to wait for another program's lock before giving up.

        Raises
        ------
        WorkspaceError
            Not a folder / not a workspace / locked / corrupt / newer schema (one-line message).
        """
        p = user_path(folder)
        if p.exists() and not p.is_dir():
            raise WorkspaceError(f"{p} is a file, not a workspace folder")
        db_path = p / DB_NAME
        if not db_path.is_file():
            if db_path.exists():
                raise WorkspaceError(f"{db_path} is not a file")
            if not create:
                raise WorkspaceError(f"{p} is not a FaceLens workspace (no {DB_NAME})")
            try:  # owner-only: the folder 0700, the database 0600 (SQLite gives -wal/-shm its mode)
                make_private_dirs(p)
                create_private_file(db_path)
            except OSError as exc:
                raise WorkspaceError(f"cannot create workspace folder {p}: {exc.strerror}") from None
        db = Connections(db_path, timeout_s)
        try:
            conn = db.get()
            with translate_errors(db_path):
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise WorkspaceError(f"workspace {p.name}: cannot switch the database to WAL mode")
            with db.transaction() as c:
                try:
                    ensure_schema(c)
                except SchemaError as exc:
                    raise WorkspaceError(f"{db_path}: {exc}") from None
                # Sessions still marked "analysing" when the workspace opens were cut off (crash,
                # power loss, app killed): remember them so the app can offer to resume.
                # A session that another live FaceLens is analysing right now was not cut off.
                holder = leases.new_holder()
                rows = [r for r in c.execute("SELECT id FROM sessions WHERE status = ? ORDER BY id",
                                             (SessionStatus.ANALYSING.value,)).fetchall()
                        if leases.foreign_live_lease(c, int(r[0]), holder) is None]
            make_private_dirs(p / ANALYSES_DIR)
            owner_only(p, DB_NAME, ANALYSES_DIR)
        except BaseException:
            db.close_all()
            raise
        return cls(p, db, user or _default_user(), [int(r[0]) for r in rows], holder)

    def close(self) -> None:
        """Drop this object's analysis leases and close every thread's connection."""
        try:
            with self._db.transaction() as c:
                leases.release(c, None, self._holder)
        except WorkspaceError:  # closed already, or read-only: a dead holder's lease is taken over anyway
            pass
        self._db.close_all()

    def close_thread(self) -> None:
        """Close the calling thread's own connection; a worker thread calls this before it ends
        (otherwise its connection stays open until :meth:`close`). The workspace stays usable."""
        self._db.release()

    def __enter__(self) -> Workspace:  # noqa: PYI034 - subclasses are not expected
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def journal_mode(self) -> str:
        with self._db.reading() as c:
            return str(c.execute("PRAGMA journal_mode").fetchone()[0]).lower()

    # ------------------------------------------------------------------ patients
    def add_patient(self, code: str, notes: str = "") -> Patient:
        """Add a patient by pseudonym (see :func:`check_pseudonym`); never store real names here."""
        code = check_pseudonym(code)
        with self._db.transaction() as c:
            if c.execute("SELECT 1 FROM patients WHERE code = ?", (code,)).fetchone():
                raise WorkspaceError(f"patient {code} already exists")
            cur = c.execute("INSERT INTO patients (code, notes, created) VALUES (?, ?, ?)",
                            (code, notes, now_iso()))
            self._audit(c, "patient added", {"patient": code})
        return self.get_patient(int(cur.lastrowid or 0))

    def get_patient(self, patient: int | str) -> Patient:
        col = "id" if isinstance(patient, int) else "code"
        with self._db.reading() as c:
            r = c.execute(f"SELECT id, code, notes, created FROM patients WHERE {col} = ?",
                          (patient,)).fetchone()
        if r is None:
            raise WorkspaceError(f"no patient {patient}")
        return Patient(*r)

    def list_patients(self) -> list[Patient]:
        with self._db.reading() as c:
            rows = c.execute("SELECT id, code, notes, created FROM patients ORDER BY code").fetchall()
        return [Patient(*r) for r in rows]

    # ------------------------------------------------------------------ sessions
    def import_session(self, video: str | Path, patient: int | str, date: str | _dt.date = "",
                       scenario: str = "other", notes: str = "", *, sha256: str | None = None) -> SessionRecord:
        """Register a recorded session: hashes the video and stores its absolute path.

        ``patient`` is a patient id or pseudonym; an unknown pseudonym is added. The video is not
        copied. ``scenario`` is one of the label set's scenarios. ``sha256`` skips hashing when the
        caller already knows it.
        """
        from facelens.core.annotation.labels import default_label_set

        v = user_path(video)
        if not v.is_file():
            raise WorkspaceError(f"video not found: {v}")
        scenarios = default_label_set().scenarios
        if scenario not in scenarios:
            raise WorkspaceError(f"unknown scenario {scenario!r} (use one of: {', '.join(scenarios)})")
        date_s = _check_date(date)
        try:
            digest = sha256 or sha256_file(v)
        except OSError as exc:
            raise WorkspaceError(f"cannot read video {v.name}: {exc.strerror}") from None
        now = now_iso()
        with self._db.transaction() as c:  # patient and session together, or neither
            pid = self._patient_id(c, patient)
            cur = c.execute(
                "INSERT INTO sessions (patient_id, video_path, video_sha256, date, scenario, notes,"
                " status, created, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (pid, str(v.resolve()), digest, date_s, scenario, notes,
                 SessionStatus.NOT_ANALYSED.value, now, now),
            )
            sid = int(cur.lastrowid or 0)
            self._audit(c, "session imported", {"session": sid, "patient_id": pid, "video_sha256": digest})
        return self.get_session(sid)

    def _patient_id(self, c: sqlite3.Connection, patient: int | str) -> int:
        """Id of a patient given by id or pseudonym; an unknown pseudonym is added (same transaction)."""
        if isinstance(patient, int):
            if c.execute("SELECT 1 FROM patients WHERE id = ?", (patient,)).fetchone() is None:
                raise WorkspaceError(f"no patient {patient}")
            return patient
        code = check_pseudonym(patient)
        r = c.execute("SELECT id FROM patients WHERE code = ?", (code,)).fetchone()
        if r is not None:
            return int(r[0])
        cur = c.execute("INSERT INTO patients (code, notes, created) VALUES (?, ?, ?)", (code, "", now_iso()))
        self._audit(c, "patient added", {"patient": code})
        return int(cur.lastrowid or 0)

    def get_session(self, session_id: int) -> SessionRecord:
        with self._db.reading() as c:
            c.row_factory = sqlite3.Row
            try:
                r = c.execute(_SESSION_SELECT + " WHERE s.id = ?", (int(session_id),)).fetchone()
            finally:
                c.row_factory = None
        if r is None:
            raise WorkspaceError(f"no session {session_id}")
        return _session(r)

    def list_sessions(self, patient: int | str | None = None) -> list[SessionRecord]:
        sql, args = _SESSION_SELECT, []
        if patient is not None:
            sql += " WHERE p.id = ?" if isinstance(patient, int) else " WHERE p.code = ?"
            args = [patient]
        with self._db.reading() as c:
            c.row_factory = sqlite3.Row
            try:
                rows = c.execute(sql + " ORDER BY s.date, s.id", args).fetchall()
            finally:
                c.row_factory = None
        return [_session(r) for r in rows]

    def update_session(self, session_id: int, *, date: str | _dt.date | None = None,
                       scenario: str | None = None, notes: str | None = None) -> SessionRecord:
        """Change a session's date, scenario or notes."""
        s = self.get_session(session_id)
        new = {"date": s.date if date is None else _check_date(date),
               "scenario": s.scenario if scenario is None else scenario,
               "notes": s.notes if notes is None else notes}
        with self._db.transaction() as c:
            c.execute("UPDATE sessions SET date = ?, scenario = ?, notes = ?, modified = ? WHERE id = ?",
                      (new["date"], new["scenario"], new["notes"], now_iso(), s.id))
            self._audit(c, "session edited", {"session": s.id, **new})
        return self.get_session(s.id)

    def set_session_status(self, session_id: int, status: SessionStatus | str,
                           progress: float | None = None, reason: str | None = None) -> SessionRecord:
        """Set the analysis status (progress 0..1 while queued/analysing; reason when failed).

        Progress-only updates are not audited (a worker reports progress many times per minute).
        """
        try:
            st = SessionStatus(status)
        except ValueError:
            allowed = ", ".join(s.value for s in SessionStatus)
            raise WorkspaceError(f"unknown session status {status!r} (use one of: {allowed})") from None
        if progress is not None and not 0.0 <= float(progress) <= 1.0:
            raise WorkspaceError(f"progress must be between 0 and 1, got {progress}")
        with self._db.transaction() as c:
            old = c.execute("SELECT status FROM sessions WHERE id = ?", (int(session_id),)).fetchone()
            if old is None:
                raise WorkspaceError(f"no session {session_id}")
            try:  # queued/analysing: take (or refresh) the lease; any other status: give it back
                if st in (SessionStatus.QUEUED, SessionStatus.ANALYSING):
                    leases.claim(c, int(session_id), self._holder, self.user)
                elif (other := leases.foreign_live_lease(c, int(session_id), self._holder)) is not None:
                    raise leases.LeaseHeld(f"session #{session_id} is being analysed in another FaceLens "
                                           f"{other.describe()}; its status cannot be changed here")
                else:
                    leases.release(c, int(session_id), self._holder)
            except leases.LeaseHeld as exc:
                raise WorkspaceError(str(exc)) from None
            c.execute("UPDATE sessions SET status = ?, progress = ?, reason = ?, modified = ? WHERE id = ?",
                      (st.value, progress, reason or "", now_iso(), int(session_id)))
            if old[0] != st.value:
                self._audit(c, "session status", {"session": int(session_id), "from": old[0],
                                                  "to": st.value, "reason": reason or ""})
        if st is not SessionStatus.ANALYSING and int(session_id) in self._interrupted:
            self._interrupted.remove(int(session_id))
        return self.get_session(session_id)

    def analysed_elsewhere(self, session_id: int) -> leases.Lease | None:
        """The lease of another live program analysing ``session_id`` (``describe()`` says who), or None."""
        with self._db.reading() as c:
            return leases.foreign_live_lease(c, int(session_id), self._holder)

    def interrupted_sessions(self) -> list[SessionRecord]:
        """Sessions whose analysis was cut off: status "analysing" when the workspace was opened.

        The partial results file (``results_path_for(s)`` + ``.partial``) can be resumed. A session
        drops out of this list once its status is set to anything else.
        """
        return [self.get_session(i) for i in list(self._interrupted)]

    def results_path_for(self, session: int | SessionRecord) -> Path:
        """Where the pipeline writes this session's results (HDF5), inside ``analyses/``."""
        s = session if isinstance(session, SessionRecord) else self.get_session(session)
        return self.analyses_dir / f"session-{s.id:05d}-{s.video_sha256[:12]}.h5"


def _check_date(date: str | _dt.date) -> str:
    if isinstance(date, _dt.date):
        return date.isoformat()
    d = (date or "").strip()
    if d:
        try:
            _dt.date.fromisoformat(d)
        except ValueError:
            raise WorkspaceError(f"session date {d!r} is not YYYY-MM-DD") from None
    return d


def _session(r: sqlite3.Row) -> SessionRecord:
    return SessionRecord(
        id=r["id"], patient_id=r["patient_id"], patient_code=r["patient_code"], video_path=r["video_path"],
        video_sha256=r["video_sha256"], date=r["date"], scenario=r["scenario"], notes=r["notes"],
        status=SessionStatus(r["status"]), progress=r["progress"], reason=r["reason"],
        created=r["created"], modified=r["modified"],
    )
