"""What a patient-level result was computed from, as one comparable key (Qt-free).

A BD-vs-MDD prediction (and anything derived from it: the panel, the report) depends on the
patient, the set of analysed sessions of that patient (and which analysis of each), the segments of
those sessions and the model. :func:`patient_inputs` collects exactly those inputs from a workspace
and :class:`InputsKey` fingerprints them, so the GUI can tell when a shown result no longer matches
the data on screen and the report can refuse to print it.

Public API
----------
``InputsKey``                     patient, sessions (with their results files), segments digest, model
``PatientInputs``                 the key plus the (results path, segments) pairs it describes
``patient_inputs(ws, patient_id, model_path="") -> PatientInputs``
``segments_digest(pairs) -> str`` the part of the key that the segments contribute
``session_results_path(ws, session_id) -> Path``  a session's newest complete results file
``InputsKey.difference(other) -> str``  why two keys differ, in plain words ('' when equal)
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.workspace import Workspace


@dataclass(frozen=True)
class InputsKey:
    """Fingerprint of a patient-level result's inputs.

    Attributes
    ----------
    patient_id : int
        Workspace patient id.
    patient_code : str
        Its pseudonym (shown in messages, not compared).
    sessions : tuple of (int, str)
        Analysed session ids with the identity of the results file used (name, size, mtime).
    segments : str
        SHA-256 over every segment's id, start, end and label in those sessions.
    model : str
        The model file or folder ('' = the shipped reference model).
    """

    patient_id: int
    patient_code: str = field(compare=False)
    sessions: tuple[tuple[int, str], ...]
    segments: str
    model: str = ""

    @property
    def digest(self) -> str:
        """A short text form of the whole key (stored with results, passed to the report)."""
        text = repr((self.patient_id, self.sessions, self.segments, self.model))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def difference(self, other: InputsKey | None) -> str:
        """Why ``other`` (the data now) differs from this key (the data a result came from)."""
        if other is None:
            return "no patient is open"
        if other.patient_id != self.patient_id:
            return f"it belongs to patient {self.patient_code}, not {other.patient_code}"
        if {s for s, _ in other.sessions} != {s for s, _ in self.sessions}:
            return "the set of analysed sessions changed"
        if other.sessions != self.sessions:
            return "a session was analysed again"
        if other.segments != self.segments:
            return "segments were added, changed or deleted"
        if other.model != self.model:
            return "another model was selected"
        return ""


@dataclass
class PatientInputs:
    """The inputs of a patient-level prediction and their key."""

    key: InputsKey
    pairs: list[tuple[Path, list[Any]]]  # (results file, segments) per analysed session

    @property
    def session_ids(self) -> list[int]:
        return [s for s, _ in self.key.sessions]


def segments_digest(pairs: Iterable[tuple[int, Sequence[Any]]]) -> str:
    """SHA-256 over (session, segment id, start, end, label) of every segment, in a fixed order."""
    rows = sorted((int(sid), str(s.id), float(s.start_s), float(s.end_s), str(s.label))
                  for sid, segs in pairs for s in segs)
    return hashlib.sha256(repr(rows).encode("utf-8")).hexdigest()


def _file_identity(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def session_results_path(ws: Workspace, session_id: int) -> Path:
    """The results file of a session's newest complete analysis (or where the pipeline writes it)."""
    run = ws.latest_run(session_id, complete_only=True)
    if run is not None and Path(run.results_path).is_file():
        return Path(run.results_path)
    return Path(ws.results_path_for(session_id))


def patient_inputs(ws: Workspace, patient_id: int, model_path: str | Path | None = "") -> PatientInputs:
    """Every analysed session of a patient with its newest complete results file and its segments.

    Sessions without a finished results file are left out (they cannot contribute frames).
    """
    pairs: list[tuple[Path, list[Any]]] = []
    sessions: list[tuple[int, str]] = []
    seg_pairs: list[tuple[int, list[Any]]] = []
    code = ""
    for rec in ws.list_sessions(patient_id):
        code = rec.patient_code
        path = Path(session_results_path(ws, rec.id))
        if not path.is_file():
            continue
        segs = list(ws.segments(rec.id))
        pairs.append((path, segs))
        sessions.append((int(rec.id), _file_identity(path)))
        seg_pairs.append((int(rec.id), segs))
    if not code:
        code = ws.get_patient(patient_id).code
    key = InputsKey(int(patient_id), code, tuple(sessions), segments_digest(seg_pairs), str(model_path or ""))
    return PatientInputs(key, pairs)
