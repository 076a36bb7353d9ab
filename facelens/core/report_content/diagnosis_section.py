"""The report's BD-vs-MDD section: the same prediction the GUI shows, from the same inputs (Qt-free).

The prediction is made over every analysed session of the patient (as the GUI's Diagnosis panel
does), not over the one session the report is about, so the printed probability is the one the
clinician saw. The section records which sessions went in and the fingerprint of the inputs
(:class:`~facelens.core.report_content.provenance.InputsKey`).
"""
from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from facelens.core.report_content.sections import DiagnosisSection, DriverRow


def sha256_file(path: Path) -> str:
    """SHA-256 of a file, read in 1-MiB blocks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def diagnosis_section(sessions: Sequence[tuple[Any, Sequence[Any]]], opt: Any, *,
                      session_ids: Sequence[int] = (), inputs_digest: str = "") -> DiagnosisSection:
    """Run the selected model over ``sessions`` ((results, segments) pairs of one patient).

    ``opt`` is the report's :class:`ReportOptions` (``use_model``, ``model_path``).
    """
    from facelens.core.diagnosis.model import (
        MODEL_FILE,
        DiagnosisModelError,
        Refusal,
        load_model,
        predict_subject,
        reference_model_dir,
    )

    sec = DiagnosisSection("BD-versus-MDD model")
    sec.session_ids = [int(s) for s in session_ids]
    sec.inputs_digest = inputs_digest
    if not opt.use_model:
        sec.unavailable = "no model was selected for this report"
        return sec
    try:
        model = load_model(opt.model_path)
    except DiagnosisModelError as exc:
        sec.unavailable = f"the model could not be loaded ({exc})"
        return sec
    p = Path(opt.model_path) if opt.model_path is not None else reference_model_dir()
    f = p / MODEL_FILE if p.is_dir() else p
    sec.model_sha256 = sha256_file(f)
    sec.model_id = str(model.card.get("model_id", p.name))
    sec.card = model.card
    sec.simulated = bool(model.card.get("simulated", True))
    out = predict_subject(model, [(res, list(segs)) for res, segs in sessions])
    if isinstance(out, Refusal):
        sec.refused = out.reason
        sec.n_valid_frames = dict(out.n_valid_frames)
        return sec
    sec.probability_bd = out.probability_bd
    sec.interval = out.interval
    sec.interval_method = out.interval_method
    sec.drivers = [DriverRow(d.feature, d.value, d.contribution, d.imputed) for d in out.drivers]
    sec.imputed_features = list(out.imputed_features)
    sec.n_valid_frames = dict(out.n_valid_frames)
    return sec
