"""Analysis runs and diagnosis results of a workspace (mixed into :class:`Workspace`)."""
from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from facelens.core.workspace.audit import AuditMixin
from facelens.core.workspace.connection import now_iso
from facelens.core.workspace.records import AnalysisRun, Diagnosis, RunStatus, WorkspaceError

_RUN_COLS = "id, session_id, results_path, params, models, started, finished, status, message"
_DIAG_COLS = ("id, session_id, patient_id, model_id, probability, interval_lo, interval_hi, refusal, "
              "details, created")


class RunsMixin(AuditMixin):
    # ------------------------------------------------------------------ analysis runs
    def record_run(self, session_id: int, results_path: str | Path, params: dict[str, Any],
                   models: Sequence[Any], status: RunStatus | str = RunStatus.RUNNING) -> AnalysisRun:
        """Record that an analysis of ``session_id`` started (parameters and model versions as JSON)."""
        st = _run_status(status)
        with self._db.transaction() as c:
            if c.execute("SELECT 1 FROM sessions WHERE id = ?", (int(session_id),)).fetchone() is None:
                raise WorkspaceError(f"no session {session_id}")
            finished = None if st is RunStatus.RUNNING else now_iso()
            cur = c.execute(
                "INSERT INTO analysis_runs (session_id, results_path, params, models, started, finished,"
                " status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (int(session_id), str(results_path), json.dumps(params, default=str),
                 json.dumps(list(models), default=str), now_iso(), finished, st.value),
            )
            rid = int(cur.lastrowid or 0)
            self._audit(c, "analysis started", {"session": int(session_id), "run": rid})
        return self.get_run(rid)

    def finish_run(self, run_id: int, status: RunStatus | str = RunStatus.COMPLETE,
                   message: str = "") -> AnalysisRun:
        """Mark a run complete / failed / cancelled (sets ``finished``)."""
        st = _run_status(status)
        with self._db.transaction() as c:
            cur = c.execute("UPDATE analysis_runs SET status = ?, finished = ?, message = ? WHERE id = ?",
                            (st.value, now_iso(), message, int(run_id)))
            if cur.rowcount == 0:
                raise WorkspaceError(f"no analysis run {run_id}")
            self._audit(c, "analysis finished", {"run": int(run_id), "status": st.value, "message": message})
        return self.get_run(run_id)

    def get_run(self, run_id: int) -> AnalysisRun:
        with self._db.reading() as c:
            r = c.execute(f"SELECT {_RUN_COLS} FROM analysis_runs WHERE id = ?", (int(run_id),)).fetchone()
        if r is None:
            raise WorkspaceError(f"no analysis run {run_id}")
        return _run(r)

    def runs(self, session_id: int) -> list[AnalysisRun]:
        """All runs of a session, oldest first."""
        with self._db.reading() as c:
            rows = c.execute(f"SELECT {_RUN_COLS} FROM analysis_runs WHERE session_id = ? ORDER BY id",
                             (int(session_id),)).fetchall()
        return [_run(r) for r in rows]

    def latest_run(self, session_id: int, complete_only: bool = False) -> AnalysisRun | None:
        """The newest run of a session (only complete ones with ``complete_only``), or None."""
        sql = f"SELECT {_RUN_COLS} FROM analysis_runs WHERE session_id = ?"
        if complete_only:
            sql += f" AND status = '{RunStatus.COMPLETE.value}'"
        with self._db.reading() as c:
            r = c.execute(sql + " ORDER BY id DESC LIMIT 1", (int(session_id),)).fetchone()
        return None if r is None else _run(r)

    # ------------------------------------------------------------------ diagnoses
    def record_diagnosis(self, model_id: str, *, session_id: int | None = None, patient_id: int | None = None,
                         probability: float | None = None, interval: tuple[float, float] | None = None,
                         refusal: str = "", details: dict[str, Any] | None = None) -> Diagnosis:
        """Store a model's output: a probability (with optional interval) or a refusal reason.

        Exactly one of ``probability`` and ``refusal`` must be given: the app never stores a number
        when the model declined to give one.
        """
        if session_id is None and patient_id is None:
            raise WorkspaceError("a diagnosis needs a session or a patient")
        if (probability is None) == (not refusal.strip()):
            raise WorkspaceError("give either a probability or a refusal reason, not both or neither")
        if probability is not None and not (0.0 <= probability <= 1.0 and math.isfinite(probability)):
            raise WorkspaceError(f"probability must be in [0, 1], got {probability}")
        lo, hi = (None, None) if interval is None else (float(interval[0]), float(interval[1]))
        with self._db.transaction() as c:
            cur = c.execute(
                f"INSERT INTO diagnoses ({_DIAG_COLS.split(', ', 1)[1]}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, patient_id, model_id, probability, lo, hi, refusal,
                 json.dumps(details or {}, default=str), now_iso()),
            )
            did = int(cur.lastrowid or 0)
            self._audit(c, "diagnosis recorded", {"diagnosis": did, "model": model_id, "session": session_id,
                                                  "patient_id": patient_id, "refused": bool(refusal)})
        return self.diagnoses(diagnosis_id=did)[0]

    def diagnoses(self, session_id: int | None = None, patient_id: int | None = None,
                  diagnosis_id: int | None = None) -> list[Diagnosis]:
        """Stored diagnosis results, oldest first, filtered by session / patient / id."""
        sql, args = f"SELECT {_DIAG_COLS} FROM diagnoses WHERE 1=1", []
        for col, val in (("session_id", session_id), ("patient_id", patient_id), ("id", diagnosis_id)):
            if val is not None:
                sql += f" AND {col} = ?"
                args.append(int(val))
        with self._db.reading() as c:
            rows = c.execute(sql + " ORDER BY id", args).fetchall()
        return [Diagnosis(id=r[0], session_id=r[1], patient_id=r[2], model_id=r[3], probability=r[4],
                          interval=None if r[5] is None else (r[5], r[6]), refusal=r[7],
                          details=json.loads(r[8]), created=r[9]) for r in rows]


def _run_status(status: RunStatus | str) -> RunStatus:
    try:
        return RunStatus(status)
    except ValueError:
        raise WorkspaceError(f"unknown run status {status!r}") from None


def _run(r: tuple[Any, ...]) -> AnalysisRun:
    return AnalysisRun(id=r[0], session_id=r[1], results_path=r[2], params=json.loads(r[3]),
                       models=json.loads(r[4]), started=r[5], finished=r[6], status=RunStatus(r[7]),
                       message=r[8])
