"""The application's one evented model: what is open and which results belong to it (Qt-free).

Controllers change fields here; views subscribe to ``model.events.<field>`` (psygnal evented
dataclass: a signal fires once per real change, with the new and the old value). The patient-safety
rule lives here, not in a widget: a patient-level result is kept together with the
:class:`~facelens.core.report_content.provenance.InputsKey` it was computed from, and
:meth:`AppModel.set_inputs` clears it when another patient is opened, so nothing computed for one
patient is ever shown next to another patient's data. When the same patient's data change (a
segment edited, a session analysed again) the result stays, marked out of date with the reason
(:attr:`AppModel.diagnosis_freshness`), until it is computed again.

Public API
----------
``AppModel``              fields ``workspace``, ``patient_id``, ``session_id``, ``inputs``,
                          ``diagnosis``, ``data_version``, ``segments_version``, ``message``;
                          ``set_inputs(key)``, ``data_changed()``, ``segments_changed()``, ``diagnosis_freshness``
``StampedResult``         a result (prediction or refusal), its model card and its ``InputsKey``
``Freshness``             ``state`` ("none" | "current" | "stale") and ``reason``
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from psygnal import evented

from facelens.core.report_content.provenance import InputsKey


@dataclass(frozen=True)
class StampedResult:
    """A patient-level result with the key of the inputs it was computed from."""

    result: Any
    card: dict[str, Any] = field(compare=False)
    key: InputsKey
    warnings: tuple[str, ...] = ()  # data-quality warnings per label of the inputs


@dataclass(frozen=True)
class Freshness:
    """Whether the shown result matches the data now: ``state`` and, when stale, why."""

    state: str
    reason: str = ""

    @property
    def current(self) -> bool:
        return self.state == "current"


@evented
@dataclass
class AppModel:
    """Open workspace, patient and session; the inputs now on screen; the patient-level result.

    Attributes
    ----------
    workspace : str
        Folder of the open workspace ('' when none).
    patient_id, session_id : int or None
        The open session and its patient.
    inputs : InputsKey or None
        Fingerprint of the open patient's data as it is now (set by the controllers after every
        change of sessions or segments).
    diagnosis : StampedResult or None
        The last BD-vs-MDD result computed for the open patient.
    data_version : int
        Bumped by :meth:`data_changed` whenever the open patient's sessions or analyses change.
    segments_version : int
        Bumped by :meth:`segments_changed` whenever the open session's segments change (an edit, undo,
        redo, CSV import): only that session's part of the inputs needs reading again.
    message : str
        The latest status message for the user.
    """

    workspace: str = ""
    patient_id: int | None = None
    session_id: int | None = None
    inputs: InputsKey | None = None
    diagnosis: StampedResult | None = None
    data_version: int = 0
    segments_version: int = 0
    message: str = ""

    def data_changed(self) -> None:
        """The open patient's sessions or analyses changed: subscribers refresh what depends on them."""
        self.data_version += 1

    def segments_changed(self) -> None:
        """The open session's segments changed (subscribers re-read that session's segments only)."""
        self.segments_version += 1

    def set_inputs(self, key: InputsKey | None) -> None:
        """The open patient's data changed (or another patient was opened).

        A result of another patient (or with no patient open) is dropped at once; a result of the
        same patient is kept and :attr:`diagnosis_freshness` says whether it is out of date.
        """
        d = self.diagnosis
        if d is not None and (key is None or key.patient_id != d.key.patient_id):
            self.diagnosis = None
        self.inputs = key

    @property
    def diagnosis_freshness(self) -> Freshness:
        """``none`` (no result), ``current`` (matches the data now) or ``stale`` with the reason."""
        d = self.diagnosis
        if d is None:
            return Freshness("none")
        why = d.key.difference(self.inputs)
        return Freshness("stale", why) if why else Freshness("current")
