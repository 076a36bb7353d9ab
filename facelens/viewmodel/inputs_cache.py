"""The open patient's inputs fingerprint, kept current without re-reading the whole patient (Qt-free).

:func:`facelens.core.report_content.provenance.patient_inputs` reads every session of the patient
(its newest complete run, its results file's identity, its segments). That is right when the set of
sessions or analyses changes (``AppModel.data_version``) or another patient or model is chosen, but a
segment edit changes only the open session's segments (``AppModel.segments_version``): then only that
session's segments are read again and the digest is rebuilt from the segments already in memory.
The key is always the one :func:`patient_inputs` would give for the workspace as it is (tested).

Public API
----------
``InputsCache()``  ``full(ws, patient_id, model_path)`` and ``segments_edited(ws, patient_id,
model_path, session_id)`` return the ``PatientInputs``; ``full_reads`` / ``partial_reads`` count them.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from facelens.core.report_content.provenance import PatientInputs, patient_inputs, segments_digest


class InputsCache:
    """The last :class:`PatientInputs` read, and what it was read for (workspace, patient, model)."""

    def __init__(self) -> None:
        self.inputs: PatientInputs | None = None
        self._for: tuple[Any, int, str] | None = None
        self.full_reads = 0
        self.partial_reads = 0

    def full(self, ws: Any, patient_id: int, model_path: str | Path | None = "") -> PatientInputs:
        """Read every session of the patient (another patient, model, or set of analyses)."""
        self.inputs = patient_inputs(ws, patient_id, model_path)
        self._for = (ws, int(patient_id), str(model_path or ""))
        self.full_reads += 1
        return self.inputs

    def segments_edited(self, ws: Any, patient_id: int, model_path: str | Path | None, session_id: int) -> PatientInputs:
        """The segments of ``session_id`` changed: re-read them only (a full read when nothing is cached
        for this workspace, patient and model)."""
        cur, want = self.inputs, (ws, int(patient_id), str(model_path or ""))
        if cur is None or self._for is None or self._for[0] is not ws or self._for[1:] != want[1:]:
            return self.full(ws, patient_id, model_path)
        ids = cur.session_ids
        if int(session_id) not in ids:  # not analysed: its segments are not an input
            return cur
        segs = list(ws.segments(int(session_id)))
        pairs = [(path, segs if sid == int(session_id) else old) for sid, (path, old) in zip(ids, cur.pairs)]
        digest = segments_digest([(sid, s) for sid, (_, s) in zip(ids, pairs)])
        self.inputs = PatientInputs(replace(cur.key, segments=digest), pairs)
        self.partial_reads += 1
        return self.inputs
