"""Rows of the workspace database as plain frozen dataclasses (what the Workspace returns)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from facelens.core.annotation.segments import Segment


class WorkspaceError(Exception):
    """A workspace that cannot be used (not a workspace, locked, corrupt, bad input); one line."""


class SessionStatus(str, Enum):
    """Where a session's analysis stands. The value is what is stored and shown."""

    NOT_ANALYSED = "not analysed"
    QUEUED = "queued"
    ANALYSING = "analysing"
    ANALYSED = "analysed"
    FAILED = "failed"


class RunStatus(str, Enum):
    """State of one analysis run."""

    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"


# A pseudonym is a short code such as "P001", "BD-017" or "site2_s14": letters, digits, "-", "_", ".",
# at most 32 characters and at least one digit. This rejects things that look like a real name
# ("Jane Doe", "JaneDoe", "doe.jane@x.org") — the workspace must hold no directly identifying data.
_PSEUDONYM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def check_pseudonym(code: str) -> str:
    """Return the pseudonym stripped, or raise :class:`WorkspaceError` if it may identify a person."""
    c = (code or "").strip()
    if not _PSEUDONYM.match(c) or not any(ch.isdigit() for ch in c):
        raise WorkspaceError(
            f"patient ID {code!r} is not a pseudonym: use a code such as P001 "
            "(letters, digits, - _ . ; at least one digit; no spaces, no real names)"
        )
    return c


@dataclass(frozen=True)
class Patient:
    id: int
    code: str  # the pseudonym
    notes: str
    created: str  # ISO 8601 UTC


@dataclass(frozen=True)
class SessionRecord:
    id: int
    patient_id: int
    patient_code: str
    video_path: str
    video_sha256: str
    date: str  # ISO date of the recording ("" when unknown)
    scenario: str
    notes: str
    status: SessionStatus
    progress: float | None  # 0..1 while queued/analysing
    reason: str  # why it failed (or other status detail)
    created: str
    modified: str


@dataclass(frozen=True)
class SegmentRecord:
    """A segment with its bookkeeping columns."""

    segment: Segment
    session_id: int
    created: str
    modified: str


@dataclass(frozen=True)
class AnalysisRun:
    id: int
    session_id: int
    results_path: str
    params: dict[str, Any]
    models: list[Any]
    started: str
    finished: str | None
    status: RunStatus
    message: str


@dataclass(frozen=True)
class Diagnosis:
    id: int
    session_id: int | None
    patient_id: int | None
    model_id: str
    probability: float | None  # P(BD); None when the model refused
    interval: tuple[float, float] | None  # e.g. a 95 % interval for the probability
    refusal: str  # why no probability was given ("" when one was)
    details: dict[str, Any]
    created: str


@dataclass(frozen=True)
class AuditEntry:
    id: int
    time: str
    user: str
    action: str
    details: dict[str, Any]
