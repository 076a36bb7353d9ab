"""Assemble the report content of one session from its results file and segments (Qt-free).

:func:`build_content` computes nothing the rest of FaceLens does not compute already: per-label
statistics and indices come from :func:`facelens.core.dynamics.session_dynamics`, the prediction from
:func:`facelens.core.diagnosis.model.predict_subject`; this module only selects, orders and explains them.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from facelens import __version__
from facelens.core.annotation import exclusions
from facelens.core.annotation.segments import DEFAULT_LABELS, Segment
from facelens.core.dynamics import PAC_THRESHOLD, SessionDynamics, segment_mask, session_dynamics
from facelens.core.dynamics.baseline import baseline_summary
from facelens.core.report_content import published
from facelens.core.report_content.diagnosis_section import diagnosis_section
from facelens.core.report_content.quality_warnings import label_warnings
from facelens.core.report_content.sections import (
    AffectSeriesSection,
    DisclaimerSection,
    DynamicsSection,
    HeaderSection,
    IndexRow,
    ModelsSection,
    Moment,
    QualitySection,
    ReportContent,
    SegmentIndexRow,
    SegmentQuality,
    SignOffSection,
    SnapshotSection,
    VARow,
    VATableSection,
)

if TYPE_CHECKING:  # pragma: no cover
    from facelens.core.results import SessionResults

DENSITY_BINS = 24
DISCLAIMER = [
    ("FaceLens is a research and decision-support tool. It does not make a diagnosis, and nothing in this "
     "report is a diagnosis. Its numbers are estimates from video of the face, made by models that were not "
     "validated on psychiatric patients; they can be wrong, and they must be read by a qualified clinician "
     "together with the clinical assessment."),
    ("Valence and arousal are estimated per sampled frame in the range −1 to +1. Frames without a usable face "
     "(no face, occlusion, blur, extreme head pose) are left out and counted under Data quality. The occlusion "
     "check finds a hand that confuses the face model, but it misses many smooth objects held in front of the "
     "mouth (about a quarter of synthetic ones found in testing); such frames stay in the analysis and can move "
     "valence and arousal unless a reviewer marks the span as excluded (listed under Data quality)."),
]


@dataclass
class ReportOptions:
    """What the caller knows about the session and how the report should look.

    ``include_identifying=False`` leaves the patient ID, session date and the names of the
    clinician and annotators out of the report entirely (not blanked: absent).
    ``model_path=None`` uses the shipped reference model; ``use_model=False`` skips the prediction.
    ``expected_inputs``: the ``InputsKey.digest`` of the prediction the user saw; a workspace report
    refuses to print when the patient's data no longer match it (see ``sources.content_for_session``).
    ``interpretation`` and ``signed_by``: the clinician's reading and sign-off (blank lines when empty).
    """

    patient_id: str = ""
    session_date: str = ""
    scenario: str = ""
    clinician: str = ""
    include_identifying: bool = True
    use_model: bool = True
    model_path: str | Path | None = None
    report_id: str = ""
    generated_at: _dt.datetime | None = None
    expected_inputs: str = ""
    interpretation: str = ""
    signed_by: str = ""


def _fmt_s(x: float) -> str:
    if not math.isfinite(x):
        return "—"
    m, s = divmod(round(x), 60)
    return f"{m} min {s:02d} s" if m else f"{x:.1f} s"


def _header(res: SessionResults, segments: Sequence[Segment], opt: ReportOptions,
            report_id: str, generated: str) -> HeaderSection:
    fields: list[tuple[str, str]] = []
    if opt.include_identifying:
        fields.append(("Patient (pseudonym)", opt.patient_id or "not recorded"))
        fields.append(("Session date", opt.session_date or "not recorded"))
    scenarios = sorted({s.scenario for s in segments if s.scenario})
    fields.append(("Scenario", opt.scenario or ", ".join(scenarios) or "not recorded"))
    if opt.include_identifying:
        fields.append(("Clinician", opt.clinician or "not recorded"))
        authors = sorted({s.author for s in segments if s.author})
        fields.append(("Annotator(s)", ", ".join(authors) or "not recorded"))
    fields.append(("Recording", (f"{_fmt_s(res.duration_s)}, {res.width}×{res.height} px, "
                                f"analysed at {float(res.params.get('fps', float('nan'))):g} frames/s")))
    fields.append(("Report generated", generated))
    fields.append(("Report ID", report_id))
    fields.append(("Software", (f"FaceLens {__version__} (analysis by FaceLens "
                               f"{res.meta.get('facelens_version', '?')})")))
    notices = []
    if res.is_demo:
        notices.append("SYNTHETIC DEMO SESSION generated from a public-domain portrait: not a patient recording.")
    if res.meta.get("simulated"):
        notices.append("SIMULATED session (not a recording of a person).")
    notices += [str(n) for n in (res.meta.get("notices") or []) if str(n).strip()]
    return HeaderSection("Session", fields=fields, identifying_omitted=not opt.include_identifying,
                         notices=notices)


def _valid(res: SessionResults, segments: Sequence[Segment]) -> np.ndarray:
    """Frames with a usable face and valence/arousal, outside the reviewer's exclusions."""
    return np.asarray(res.valid_va, bool) & ~exclusions.excluded_mask(res.time_s, segments)


def _quality(res: SessionResults, segments: Sequence[Segment]) -> QualitySection:
    valid = _valid(res, segments)
    t = res.time_s
    kept = exclusions.labelled(segments)
    rows = []
    for s in sorted(kept, key=lambda s: (s.start_s, s.end_s)):
        inside = (t >= s.start_s) & (t < s.end_s)
        rows.append(SegmentQuality(s.label, s.start_s, s.end_s, int(inside.sum()), int((inside & valid).sum())))
    excluded = exclusions.excluded_mask(t, segments)
    sec = QualitySection("Data quality", duration_s=res.duration_s, sample_fps=float(res.params.get("fps", np.nan)),
                         n_frames=res.n_frames, n_usable=int(res.usable.sum()), n_valid=int(valid.sum()),
                         discards=res.discard_counts(), segments=rows,
                         warnings=label_warnings([(t, valid, kept)]),
                         n_excluded=int(excluded.sum()), n_excluded_usable=int((excluded & res.valid_va).sum()),
                         exclusions=sorted((float(s.start_s), float(s.end_s)) for s in segments
                                           if exclusions.is_exclusion(s)))
    if res.n_frames == 0:
        sec.unavailable = "the results file holds no analysed frames"
    return sec


def _series(res: SessionResults, segments: Sequence[Segment], dyn: SessionDynamics) -> AffectSeriesSection:
    valid = _valid(res, segments)
    v = np.where(valid, res.valence, np.nan).astype(np.float64)
    a = np.where(valid, res.arousal, np.nan).astype(np.float64)
    edges = np.linspace(-1.0, 1.0, DENSITY_BINS + 1)
    n = int(valid.sum())
    hist = np.zeros((DENSITY_BINS, DENSITY_BINS))
    if n:
        h, _, _ = np.histogram2d(np.clip(a[valid], -1, 1), np.clip(v[valid], -1, 1), bins=(edges, edges))  # type: ignore[arg-type]
        hist = h / n
    sec = AffectSeriesSection("Valence and arousal over time", time_s=np.asarray(res.time_s, np.float64),
                              valence=v, arousal=a, segments=[(s.label, s.start_s, s.end_s) for s in segments],
                              density=hist, density_edges=edges, n_valid=n, quadrants=dict(dyn.session_quadrants))
    if n == 0:
        sec.unavailable = (f"none of the {res.n_frames} analysed frames has a usable face with a valence/arousal "
                           "estimate (see Data quality)")
    return sec


def _va_table(dyn: SessionDynamics, segments: Sequence[Segment]) -> VATableSection:
    rows = []
    labels = list(DEFAULT_LABELS) + sorted({s.label for s in exclusions.labelled(segments)} - set(DEFAULT_LABELS))
    for lab in labels:
        st = dyn.by_label[lab]
        bd, mdd = published.GROUP_VALUES.get(lab, (None, None))
        note = published.NEUTRAL_NOTE if lab == "neutral" else ("" if bd else "not a condition of the paper")
        rows.append(VARow(lab, st.n_segments, st.n_frames, st.n_valid, st.valence.mean, st.valence.sd,
                          st.arousal.mean, st.arousal.sd, bd, mdd, note))
    sec = VATableSection("Valence and arousal per segment label", rows=rows, valence_contrast=dyn.valence_contrast,
                         citation=published.CITATION, note=published.ORIENTATION_NOTE)
    if not exclusions.labelled(segments):
        sec.unavailable = ("no segments were annotated for this session" if not segments else
                           "only exclusions were annotated for this session: no labelled segment")
    elif not any(r.n_valid for r in rows):
        sec.unavailable = "no annotated segment contains a valid frame (see Data quality)"
    return sec


_SEG_COLUMNS = [("v_mean", "V mean", 3), ("v_sd", "V SD", 3), ("v_mssd", "V MSSD", 4), ("v_pac", "V PAC", 2),
                ("v_inertia", "V inertia", 2), ("a_mean", "A mean", 3), ("a_sd", "A SD", 3),
                ("a_mssd", "A MSSD", 4), ("a_pac", "A PAC", 2), ("a_inertia", "A inertia", 2),
                ("v_amp", "V resp.", 3), ("v_lat", "V lat. s", 1)]


def _dynamics(dyn: SessionDynamics, res: SessionResults, segments: Sequence[Segment]) -> DynamicsSection:
    sv, sa = dyn.session_valence, dyn.session_arousal
    pac = dyn.params.get("pac_threshold", PAC_THRESHOLD)
    rows = []
    for key, digits in (("mean", 3), ("sd", 3), ("mssd", 4), ("pac", 3), ("inertia", 3), ("range", 3)):
        text, src = published.EXPLANATIONS[key]
        rows.append(IndexRow(key.upper() if key in ("sd", "mssd", "pac") else key.capitalize(),
                             float(getattr(sv, key)), float(getattr(sa, key)), text.format(pac=pac), src, digits))
    seg_rows = []
    for s in dyn.segments:
        vals = {"v_mean": s.valence.mean, "v_sd": s.valence.sd, "v_mssd": s.valence.mssd, "v_pac": s.valence.pac,
                "v_inertia": s.valence.inertia, "a_mean": s.arousal.mean, "a_sd": s.arousal.sd,
                "a_mssd": s.arousal.mssd, "a_pac": s.arousal.pac, "a_inertia": s.arousal.inertia,
                "v_amp": s.valence_response.amplitude, "v_lat": s.valence_response.latency_s}
        seg_rows.append(SegmentIndexRow(s.label, s.start_s, s.end_s, s.valence.n_valid,
                                        {k: float(v) for k, v in vals.items()}))
    notes = [
        (f"Indices are computed over valid frames only; a change is counted only between consecutive valid "
        f"frames (a discarded frame breaks the chain). PAC threshold {pac:g}."),
        ("Column names: V = valence, A = arousal; SD = variability; MSSD = moment-to-moment instability; "
         "PAC = share of abrupt frame-to-frame changes; inertia = carry-over from one frame to the next "
         "(lag-1 autocorrelation, −1 to +1). See the table above for each index in full."),
        ("V resp. = largest deviation of the smoothed valence from its level before the segment started; "
        "V lat. = seconds until half of it was reached. — = not defined (too few valid frames)."),
    ]
    sec = DynamicsSection("Affective dynamics", session=rows, segment_columns=list(_SEG_COLUMNS),
                          segments=seg_rows, notes=notes)
    base = baseline_summary(res, segments)
    sec.baseline, sec.baseline_flags, sec.baseline_note = base.describe(), base.flags, base.note
    if sv.n_valid < 2:
        sec.unavailable = f"the session has {sv.n_valid} valid frame(s); the indices need at least two"
    return sec


def _label_at(segments: Sequence[Segment], t: float) -> str:
    return next((s.label for s in segments if s.start_s <= t < s.end_s), "")


def _moments(res: SessionResults, segments: Sequence[Segment]) -> SnapshotSection:
    valid = _valid(res, segments)
    segments = exclusions.labelled(segments)
    sec = SnapshotSection("Face at characteristic moments")
    if not valid.any():
        sec.unavailable = "no frame has a usable face with a valence estimate"
        return sec
    idx = np.flatnonzero(valid)
    v, a = res.valence.astype(np.float64), res.arousal.astype(np.float64)
    picks: list[tuple[str, int, str]] = [
        ("highest valence", int(idx[np.argmax(v[idx])]), "valid frame with the highest valence"),
        ("lowest valence", int(idx[np.argmin(v[idx])]), "valid frame with the lowest valence"),
    ]
    neutral = [s for s in segments if s.label == "neutral"]
    pool = idx
    how = "valid frame nearest to the centre of the circumplex (valence 0, arousal 0), whole session"
    if neutral:
        in_neutral = idx[segment_mask(res.time_s, neutral)[idx]]
        if in_neutral.size:
            pool = in_neutral
            how = "valid frame of the neutral segments nearest to valence 0, arousal 0"
    picks.append(("neutral moment", int(pool[np.argmin(np.hypot(v[pool], a[pool]))]), how))
    for role, i, why in picks:
        mesh = res.posefree_mesh(i)
        if not np.isfinite(mesh).all():
            what = "holds no face mesh" if np.isnan(mesh).all() else "holds an incomplete face mesh"
            sec.missing.append(f"{role}: the results file {what} for frame {i}")
            continue
        t_i = float(res.time_s[i])
        sec.moments.append(Moment(role, i, t_i, float(v[i]), float(a[i]), _label_at(segments, t_i), mesh, why))
    return sec


def _models(res: SessionResults) -> ModelsSection:
    rows = [{"id": str(m.get("id", "?")), "version": str(m.get("version", "")), "sha256": str(m.get("sha256", "")),
             "task": str(m.get("task", "")), "training_data": str(m.get("training_data", m.get("notes", "")))}
            for m in res.models if isinstance(m, dict)]
    sec = ModelsSection("Models used by the analysis", models=rows)
    if not rows:
        sec.unavailable = "the results file does not list the models that produced it"
    return sec


def new_report_id(video_sha256: str, when: _dt.datetime) -> str:
    """Short, unique report identifier (printed on every page and in the audit log)."""
    salt = uuid.uuid4().hex
    return "R-" + hashlib.sha256(f"{video_sha256}{when.isoformat()}{salt}".encode()).hexdigest()[:10].upper()


def build_content(res: SessionResults, segments: Sequence[Segment], options: ReportOptions | None = None,
                  *, source: dict[str, Any] | None = None,
                  patient_sessions: Sequence[tuple[Any, Sequence[Segment]]] | None = None,
                  session_ids: Sequence[int] = (), inputs_digest: str = "") -> ReportContent:
    """The report of one analysed session.

    Parameters
    ----------
    res
        An open results file.
    segments
        Annotated segments of the session (may be empty: the per-label parts then say so).
    options
        Header facts, identifying fields on/off, the model to use.
    source
        Where the inputs came from (recorded in the content for the audit log).
    patient_sessions, session_ids, inputs_digest
        All analysed sessions of the patient ((results, segments) pairs) for the BD-vs-MDD
        prediction, their ids and the inputs' fingerprint; default: this session alone.
    """
    opt = options or ReportOptions()
    segs = sorted(segments, key=lambda s: (s.start_s, s.end_s))
    when = opt.generated_at or _dt.datetime.now().astimezone()
    generated = when.strftime("%Y-%m-%d %H:%M %Z").strip()
    report_id = opt.report_id or new_report_id(res.video_sha256, when)
    dyn = session_dynamics(res, segs)
    diag = diagnosis_section(patient_sessions if patient_sessions is not None else [(res, segs)], opt,
                             session_ids=session_ids, inputs_digest=inputs_digest)
    models_sec = _models(res)
    hashes = [(m["id"], m["sha256"]) for m in models_sec.models if m["sha256"]]
    if diag.model_sha256:
        hashes.append((diag.model_id, diag.model_sha256))
        models_sec.models.append({"id": diag.model_id, "version": str(diag.card.get("created", "")),
                                  "sha256": diag.model_sha256, "task": str(diag.card.get("task", "")),
                                  "training_data": "SIMULATED cohort" if diag.simulated else "see model card"})
    sections = [
        _header(res, segs, opt, report_id, generated),
        DisclaimerSection("Important", paragraphs=list(DISCLAIMER)),
        _quality(res, segs),
        _series(res, segs, dyn),
        _va_table(dyn, segs),
        _dynamics(dyn, res, segs),
        _moments(res, segs),
        diag,
        SignOffSection("Clinical interpretation and sign-off", interpretation=opt.interpretation,
                       signed_by=opt.signed_by if opt.include_identifying else "",
                       identifying_omitted=not opt.include_identifying),
        models_sec,
    ]
    return ReportContent(report_id=report_id, generated_at=when.isoformat(timespec="seconds"),
                         software_version=__version__, video_sha256=res.video_sha256, model_hashes=hashes,
                         sections=sections, source=dict(source or {}))
