"""A labelled cohort on disk: the manifest CSV (``subject_id, diagnosis, results, segments``) read into
subject-level feature rows (one row per subject, whatever its number of sessions)."""
from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.annotation.segments import SegmentError, read_segments_csv
from facelens.core.diagnosis.features import FEATURE_NAMES, SessionSeries, subject_features

DIAGNOSES = {"BD": 1, "MDD": 0}  # BD is the positive class (sensitivity = BD recall)


class CohortError(Exception):
    """A manifest or cohort that cannot be used; one-line message."""


@dataclass
class ManifestRow:
    subject_id: str
    diagnosis: str
    results: Path
    segments: Path


@dataclass
class Cohort:
    """Feature table of a cohort: one row per subject."""

    subject_ids: list[str]
    y: np.ndarray  # 1 = BD, 0 = MDD
    X: np.ndarray  # (n_subjects, n_features), NaN where missing
    n_sessions: int
    simulated: bool
    manifest_sha256: str
    simulation: dict[str, Any] = field(default_factory=dict)
    sampling_fps: float = float("nan")  # median sampling rate of the subjects' sessions
    feature_names: tuple[str, ...] = FEATURE_NAMES  # the columns of X


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Parse a cohort manifest; raises :class:`CohortError` with the offending line."""
    p = Path(path)
    if not p.is_file():
        raise CohortError(f"manifest not found: {p}")
    try:
        rows = list(csv.DictReader(p.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CohortError(f"cannot read manifest {p.name}: {exc}") from None
    need = ("subject_id", "diagnosis", "results", "segments")
    if not rows or any(c not in rows[0] for c in need):
        raise CohortError(f"{p.name}: need the columns {', '.join(need)} and at least one row")
    out = []
    for i, r in enumerate(rows, start=2):
        dx = (r["diagnosis"] or "").strip().upper()
        if dx not in DIAGNOSES:
            raise CohortError(f"{p.name} line {i}: diagnosis must be BD or MDD, not {r['diagnosis']!r}")
        sid = (r["subject_id"] or "").strip()
        if not sid:
            raise CohortError(f"{p.name} line {i}: empty subject_id")
        out.append(ManifestRow(sid, dx, p.parent / r["results"].strip(), p.parent / r["segments"].strip()))
    by_subject: dict[str, str] = {}
    for row in out:
        if by_subject.setdefault(row.subject_id, row.diagnosis) != row.diagnosis:
            raise CohortError(f"{p.name}: subject {row.subject_id} has both diagnoses")
    return out


def load_cohort(manifest: str | os.PathLike[str], names: Sequence[str] = FEATURE_NAMES) -> Cohort:
    """Read every session of the manifest and build one feature row per subject (columns ``names``)."""
    from facelens.core.results import ResultsError, SessionResults

    rows = read_manifest(manifest)
    sessions: dict[str, list[SessionSeries]] = {}
    diagnosis: dict[str, str] = {}
    simulated = False
    for r in rows:
        try:
            segs = read_segments_csv(r.segments)
            with SessionResults.open(r.results) as res:
                simulated |= bool(res.meta.get("simulated", False)) or res.is_demo
                sessions.setdefault(r.subject_id, []).append(SessionSeries.from_results(res, segs))
        except (ResultsError, SegmentError) as exc:
            raise CohortError(f"subject {r.subject_id}: {exc}") from None
        diagnosis[r.subject_id] = r.diagnosis
    ids = sorted(sessions)
    feats = [subject_features(sessions[s]) for s in ids]
    X = np.vstack([f.vector(names) for f in feats])
    rates = [f.sampling_fps for f in feats if np.isfinite(f.sampling_fps)]
    y = np.array([DIAGNOSES[diagnosis[s]] for s in ids], dtype=np.int64)
    mpath = Path(manifest)
    sim_file = mpath.parent / "simulation.json"
    sim = json.loads(sim_file.read_text()) if simulated and sim_file.is_file() else {}
    return Cohort(ids, y, X, len(rows), simulated, hashlib.sha256(mpath.read_bytes()).hexdigest(), sim,
                  float(np.median(rates)) if rates else float("nan"), tuple(names))


# -- fitting -------------------------------------------------------------------------------


def subjects_of(rows: Sequence[ManifestRow]) -> dict[str, str]:
    """Subject id -> diagnosis."""
    return {r.subject_id: r.diagnosis for r in rows}
