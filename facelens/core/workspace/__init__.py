"""The FaceLens workspace: a folder holding ``workspace.sqlite`` (SQLite, WAL mode) and ``analyses/``.

Public API (all Qt-free; every write is its own committed transaction, nothing is held in memory)
-------------------------------------------------------------------------------------------------
``Workspace.open(folder, create=True, *, user=None, timeout_s=5.0)`` -> Workspace (also a context
manager; ``close()``). Raises :class:`WorkspaceError` (one line) for a file instead of a folder, a
folder without ``workspace.sqlite`` (``create=False``), a locked, corrupt or foreign database.

Patients (pseudonymous IDs only: ``check_pseudonym`` accepts codes such as ``P001``/``BD-017`` —
letters, digits, ``-_.``, at least one digit — and refuses names such as ``Jane Doe``):
    ``add_patient(code, notes="")``, ``get_patient(id|code)``, ``list_patients()``
Sessions:
    ``import_session(video, patient, date="", scenario="other", notes="", *, sha256=None)`` (hashes
    the video with SHA-256, stores its absolute path; unknown pseudonyms are added),
    ``get_session(id)``, ``list_sessions(patient=None)``, ``update_session(id, date=, scenario=, notes=)``,
    ``set_session_status(id, status, progress=None, reason=None)`` (:class:`SessionStatus`),
    ``interrupted_sessions()`` (status "analysing" when opened: resumable),
    ``results_path_for(session)`` -> ``analyses/session-NNNNN-<sha12>.h5``
Analysis runs: ``record_run(session_id, results_path, params, models)``, ``finish_run(run_id, status,
    message="")``, ``get_run``, ``runs(session_id)``, ``latest_run(session_id, complete_only=False)``
Segments (:class:`facelens.core.annotation.segments.Segment`, stable ids): ``segments(session_id)``,
    ``segment_record(id)``, ``add_segment(session_id, seg)``, ``update_segment(seg)``,
    ``delete_segment(id)``, ``replace_segments(session_id, segs)``
Diagnoses: ``record_diagnosis(model_id, *, session_id=None, patient_id=None, probability=None,
    interval=None, refusal="", details=None)``, ``diagnoses(session_id=None, patient_id=None)``
Audit log: ``audit(action, details=None, user=None)``, ``audit_entries(action=None, limit=None)``;
    every write above also adds an entry in the same transaction; entries are hash-chained and
    ``verify_audit()`` reports the first broken link (:mod:`facelens.core.workspace.audit_chain`).
Leases: a session set to "queued"/"analysing" is leased to this Workspace object until its status
    changes or the workspace closes; another live program's lease makes ``set_session_status`` raise
    a one-line WorkspaceError, and ``analysed_elsewhere(id)`` tells who (:mod:`.leases`).

Threads: one SQLite connection per thread, opened on first use by that thread, so a Workspace may be
shared by the GUI thread and analysis workers (WAL: readers never wait for the writer). Do not pass a
connection between threads. A short-lived worker thread calls ``close_thread()`` before it ends.
Schema version and migrations: :mod:`facelens.core.workspace.schema`.
"""
from facelens.core.workspace.records import (
    AnalysisRun,
    AuditEntry,
    Diagnosis,
    Patient,
    RunStatus,
    SegmentRecord,
    SessionRecord,
    SessionStatus,
    WorkspaceError,
    check_pseudonym,
)
from facelens.core.workspace.schema import SCHEMA_VERSION
from facelens.core.workspace.store import ANALYSES_DIR, DB_NAME, Workspace, sha256_file

__all__ = [
    "ANALYSES_DIR", "DB_NAME", "SCHEMA_VERSION", "AnalysisRun", "AuditEntry", "Diagnosis", "Patient",
    "RunStatus", "SegmentRecord", "SessionRecord", "SessionStatus", "Workspace", "WorkspaceError",
    "check_pseudonym", "sha256_file",
]
