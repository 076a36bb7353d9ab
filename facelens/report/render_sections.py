"""One function per report section type: content section -> list of reportlab flowables."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from reportlab.platypus import KeepTogether, Spacer, Table, TableStyle

from facelens.core import report_content as rc
from facelens.core.annotation.labels import default_label_set
from facelens.core.diagnosis.feature_names import plain_name
from facelens.core.validation.statement import VALIDITY_STATEMENT
from facelens.report import charts
from facelens.report.flowables import array_image, chart
from facelens.report.style import escape, fmt, name_width, p, pct, pm, prob, table

Flowables = list[Any]


def _duration(x: float) -> str:
    if math.isnan(x):
        return "—"
    m, s = divmod(x, 60.0)
    return f"{int(m)} min {s:04.1f} s" if m else f"{s:.1f} s"


def _seg_name(label: str, a: float, b: float) -> str:
    colour = default_label_set().colour(label)
    # a no-break space before the unit: a narrow column wraps before the times, never before "s"
    return f'<font color="{colour}">■</font> {escape(label)} {a:.1f}–{b:.1f}\u00a0s'


def header(sec: rc.HeaderSection, width: float) -> Flowables:
    rows = [[escape(k), escape(v)] for k, v in sec.fields]
    t = table(rows, [0.26 * width, 0.74 * width], header_rows=0, align_right_from=99, zebra=False)
    out: Flowables = [t]
    if sec.identifying_omitted:
        out.append(p("Identifying fields (patient ID, session date, clinician and annotator names) were left "
                     "out of this report on request.", "small"))
    out += [p(escape(n), "warn") for n in sec.notices]
    return out


def disclaimer(sec: rc.DisclaimerSection, width: float) -> Flowables:
    # The measurement's validity statement (core.validation.statement, from the validity harness).
    text = "<br/><br/>".join(escape(t) for t in [*sec.paragraphs, VALIDITY_STATEMENT])
    return [p(f"<b>Not a diagnosis.</b> {text}", "box")]


def quality(sec: rc.QualitySection, width: float) -> Flowables:
    share = sec.n_valid / sec.n_frames if sec.n_frames else float("nan")
    rows = [["Measure", "Value"],
            ["Recording duration", _duration(sec.duration_s)],
            ["Sampling rate of the analysis", f"{fmt(sec.sample_fps, 1)} frames/s"],
            ["Frames analysed", f"{sec.n_frames}"],
            ["Frames with a usable face", f"{sec.n_usable}"],
            ["Valid frames (usable face and valence/arousal)", f"{sec.n_valid} ({pct(share)})"]]
    if sec.exclusions:
        rows.append(["Excluded by the reviewer", f"{sec.n_excluded} ({len(sec.exclusions)} span"
                     f"{'s' if len(sec.exclusions) > 1 else ''})"])
    left = table(rows, [0.34 * width, 0.14 * width])
    drows = [["Discarded because", "Frames"]] + [[escape(k), str(v)] for k, v in sec.discards.items()]
    right = table(drows, [0.36 * width, 0.12 * width])  # ends on the column's right edge
    out: Flowables = [Table([[left, right]], colWidths=[0.52 * width, 0.48 * width],
                            style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                                              ("LEFTPADDING", (0, 0), (-1, -1), 0)]), hAlign="LEFT")]
    out += [p(escape(w), "warn") for w in sec.warnings]
    if sec.exclusions:
        spans = ", ".join(f"{a:.1f}–{b:.1f} s" for a, b in sec.exclusions)
        out.append(p(escape(f"Excluded by the reviewer (e.g. an occlusion the checks missed): {spans}; "
                            f"{sec.n_excluded} frames, {sec.n_excluded_usable} of them otherwise valid, "
                            "left out of every figure in this report."), "small"))
    if sec.segments:
        srows = [["Segment", "Frames", "Valid", "Valid share"]]
        srows += [[_seg_name(s.label, s.start_s, s.end_s), str(s.n_frames), str(s.n_valid), pct(s.share)]
                  for s in sec.segments]
        out += [p("Valid frames per annotated segment", "h2"),
                table(srows, [0.22 * width, 0.08 * width, 0.07 * width, 0.11 * width])]  # as wide as the one above
    else:
        out.append(p("No labelled segments were annotated for this session." if sec.exclusions
                     else "No segments were annotated for this session.", "small"))
    return out


def series(sec: rc.AffectSeriesSection, width: float) -> Flowables:
    ts = chart(lambda: charts.timeseries_pdf(sec), lambda: charts.timeseries_pdf(sec, fmt="png"), width)
    circ_w = 0.42 * width
    circ = chart(lambda: charts.circumplex_pdf(sec), lambda: charts.circumplex_pdf(sec, fmt="png"), circ_w)
    qnames = {"V+A+": "pleasant, activated", "V-A+": "unpleasant, activated",
              "V-A-": "unpleasant, calm", "V+A-": "pleasant, calm", "centre": "within 0.1 of neutral"}
    qrows = [["Quadrant", "Share of valid frames"]]
    qrows += [[f"{'Centre' if k == 'centre' else k.replace('-', '−')} ({qnames[k]})", pct(v)]
              for k, v in sec.quadrants.items()]
    right = [p("Circumplex density", "h2"),
             p(f"Where the {sec.n_valid} valid frames lie on the valence (pleasant–unpleasant) / arousal "
               "(activated–calm) plane; darker cells hold more of the session.", "small"),
             Spacer(1, 3), table(qrows, [0.36 * width, width - circ_w - 4 - 0.36 * width])]  # to the right edge
    side = Table([[circ, right]], colWidths=[circ_w + 4, width - circ_w - 4],
                 style=TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]),
                 hAlign="LEFT")
    return [ts, p("Valence (top) and arousal (bottom) per sampled frame, −1 to +1; shaded bands are the annotated "
                  "segments (colour and hatch per label).", "small"), Spacer(1, 4), side]


def va_table(sec: rc.VATableSection, width: float) -> Flowables:
    rows = [["Label", "Source", "Segments", "Valid frames", "Valence mean ± SD", "Arousal mean ± SD"]]
    for r in sec.rows:
        rows.append([f"<b>{escape(r.label)}</b>", "this session", str(r.n_segments), str(r.n_valid),
                     pm(r.v_mean, r.v_sd), pm(r.a_mean, r.a_sd)])
        for name, g in (("published BD group", r.bd), ("published MDD group", r.mdd)):
            if g is not None:
                rows.append(["", f"<i>{name}</i>", "", "", f"<i>{pm(g.v_mean, g.v_sd)}</i>",
                             f"<i>{pm(g.a_mean, g.a_sd)}</i>"])
    w = [0.12, 0.24, 0.1, 0.12, 0.21, 0.21]
    out: Flowables = [table(rows, [x * width for x in w], align_right_from=2, zebra=False)]
    notes = [f"{escape(r.label)}: {escape(r.published_note)}" for r in sec.rows if r.published_note]
    out.append(p(f"Valence contrast (happy − sad mean valence): <b>{fmt(sec.valence_contrast)}</b>.", "body"))
    out.append(p("Published values: " + escape(sec.citation) + (" " + "; ".join(notes) + "." if notes else "")
                 + " " + escape(sec.note), "small"))
    return out


def dynamics(sec: rc.DynamicsSection, width: float) -> Flowables:
    rows = [["Index", "Valence", "Arousal", "What it means"]]
    for r in sec.session:
        src = f" <i>({escape(r.source)})</i>" if r.source else ""
        rows.append([escape(r.name), fmt(r.valence, r.digits), fmt(r.arousal, r.digits), escape(r.explanation) + src])
    out: Flowables = [p("Whole session", "h2"),
                      table(rows, [0.1 * width, 0.1 * width, 0.1 * width, 0.7 * width], left_cols=(3,))]
    if sec.segments:
        cols = sec.segment_columns
        # no-break spaces: "V MSSD" shrinks to fit its narrow column instead of stranding the "V"
        head = ["Segment", "Valid"] + [h.replace(" ", "\u00a0") for _, h, _ in cols]
        srows = [head] + [[_seg_name(s.label, s.start_s, s.end_s), str(s.n_valid)]
                          + [fmt(s.values[k], d) for k, _, d in cols] for s in sec.segments]
        # the segment column as wide as its widest name (so "neutral 1635.0–1650.0 s" keeps one line),
        # between 17 and 22 % of the width; the twelve index columns share the rest
        first = min(0.22 * width, max(0.17 * width, max(name_width(r[0], 6.8) for r in srows[1:]) + 5))
        rest = (width - first - 0.05 * width) / len(cols)
        out += [p("Per segment (V = valence, A = arousal)", "h2"),
                table(srows, [first, 0.05 * width] + [rest] * len(cols), small=True)]
    out += [p(escape(n), "small") for n in sec.notes]
    if sec.baseline:  # after the notes, which explain the table above
        out += [p("Neutral baseline", "h2"), p("Source: " + escape(sec.baseline), "body")]
        out += [p("<b>Flag:</b> " + escape(f), "body") for f in sec.baseline_flags]
        out += [p(escape(sec.baseline_note), "small")] if sec.baseline_note else []
    return out


def snapshots(sec: rc.SnapshotSection, width: float) -> Flowables:
    from facelens.render.snapshot import SnapshotError, render_face

    cells, caps = [], []
    col_w = width / 3.0
    for m in sec.moments:
        try:
            img = array_image(render_face(m.mesh, size=260), col_w - 10)
        except SnapshotError as exc:
            sec.missing.append(f"{m.role}: {exc}")
            continue
        cells.append(img)
        where = f", {escape(m.label)} segment" if m.label else ", outside the segments"
        caps.append(p(f"<b>{escape(m.role.capitalize())}</b><br/>t = {m.time_s:.1f} s (frame {m.frame}){where}<br/>"
                      f"valence {m.valence:.3f}, arousal {m.arousal:.3f}", "cell"))
    out: Flowables = []
    if cells:
        t = Table([cells, caps], colWidths=[col_w] * len(cells), hAlign="LEFT",
                  style=TableStyle([("ALIGN", (0, 0), (-1, -1), "CENTER"), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
        out.append(KeepTogether([t]))
        out.append(p("3D face mesh of the frame with the head pose removed (frontal view), rendered from the "
                     "tracked 478-point mesh; " + "; ".join(escape(m.how) for m in sec.moments) + ".", "small"))
    for miss in sec.missing:
        out.append(p(f"{rc.NOT_AVAILABLE} {escape(miss)}.", "na"))
    return out


def _card_rows(card: dict[str, Any]) -> list[list[str]]:
    cohort = card.get("cohort", {})
    n = cohort.get("n_subjects", {})
    n_txt = ", ".join(f"{v} {k}" for k, v in n.items()) if isinstance(n, dict) else str(n)
    cv = card.get("cv", {})
    metrics = cv.get("metrics", {})
    m_txt = ", ".join(f"{k} {fmt(v.get('mean'))} ± {fmt(v.get('sd'))}" for k, v in metrics.items()
                      if isinstance(v, dict))
    def kv(d: Any) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) if isinstance(d, dict) else str(d)

    return [["Model", escape(str(card.get("model_id", "?")))],
            ["Task", escape(str(card.get("task", "")))],
            ["Classifier", escape(f"{card.get('classifier', '')} ({kv(card.get('hyperparameters', {}))})")],
            ["Training cohort", escape(f"{n_txt} subjects, {cohort.get('n_sessions', '?')} sessions")],
            ["Trained on simulated data", "YES — not validated on patients" if card.get("simulated") else "no"],
            ["Cross-validation", escape(f"{cv.get('scheme', '')}; {cv.get('sd', '')}")],
            ["CV metrics (mean ± SD over folds)", escape(m_txt)],
            ["Created", escape(f"{card.get('created', '')}; software: {kv(card.get('software', {}))}")]]


def diagnosis(sec: rc.DiagnosisSection, width: float) -> Flowables:
    out: Flowables = []
    if sec.simulated and sec.card:
        warning = p("This model was trained on SIMULATED data and has not been validated on patients; its output "
                    "illustrates the method and must not inform a clinical decision.", "warn")
        warning.keepWithNext = 1  # printed on the page of the result it qualifies (story keeps them together)
        out.append(warning)
    if sec.refused:
        out.append(p(f"No probability: the model declined, because {escape(sec.refused)}.", "na"))
        if sec.n_valid_frames:
            out.append(p("Valid frames per label: " + ", ".join(f"{k} {v}" for k, v in sec.n_valid_frames.items()),
                         "small"))
    else:
        lo, hi = sec.interval
        out.append(p(f"Probability of bipolar disorder (versus major depressive disorder): "
                     f"{prob(sec.probability_bd)}", "big"))
        out.append(p(f"Uncertainty interval {prob(lo)} – {prob(hi)}: {escape(sec.interval_method)}. "
                     "0 = MDD, 1 = BD; the bar shows the interval, the triangle the probability.", "body"))
        out.append(chart(lambda: charts.probability_pdf(sec.probability_bd, lo, hi),
                         lambda: charts.probability_pdf(sec.probability_bd, lo, hi, fmt="png"), 0.6 * width))
        if sec.drivers:
            rows = [["What was measured", "Patient value", "Contribution (log-odds)", "Direction"]]
            for d in sec.drivers:
                words, unit = plain_name(d.feature)
                value = ("not measured (training average used)" if d.imputed or not math.isfinite(d.value)
                         else fmt(d.value) + (f" {escape(unit)}" if unit else ""))
                rows.append([escape(words), value, f"{d.contribution:+.3f}",
                             "towards BD" if d.contribution > 0 else "towards MDD"])
            out += [p("Main contributing features", "h2"),
                    table(rows, [0.44 * width, 0.22 * width, 0.18 * width, 0.16 * width], align_right_from=2)]
        if sec.imputed_features:
            names = "; ".join(plain_name(f)[0] for f in sec.imputed_features)
            out.append(p("Not measured in this patient, so the model used the training average for: "
                         + escape(names) + ".", "small"))
    if sec.session_ids:
        ids = ", ".join(f"#{i}" for i in sec.session_ids)
        out.append(p(f"Computed from all analysed sessions of this patient ({ids}); inputs fingerprint "
                     f"{escape(sec.inputs_digest)}.", "small"))
    out += [p("Model card", "h2"), table([["Item", "Value"]] + _card_rows(sec.card),
                                         [0.3 * width, 0.7 * width], align_right_from=99)]
    out.append(p(f"Model file SHA-256: {sec.model_sha256}", "small"))
    return out


def models(sec: rc.ModelsSection, width: float) -> Flowables:
    """One row per model (id, version, task) and, under it across the whole width, its SHA-256 in
    one piece: a hash cut over two lines cannot be compared or searched for."""
    rows = [["Model", "Version", "Task"]]
    for m in sec.models:
        rows.append([escape(m["id"]), escape(m["version"]), escape(m["task"])])
        rows.append([f'<font color="#555555">SHA-256 {m["sha256"]}</font>' if m["sha256"]
                     else '<font color="#555555">SHA-256 — (code, no weights file)</font>', "", ""])
    hashes = tuple(range(2, len(rows), 2))
    t = table(rows, [0.31 * width, 0.25 * width, 0.44 * width], align_right_from=99, zebra=False,
              full_rows=hashes)
    cmds: list[tuple[Any, ...]] = []
    for r in hashes:
        cmds += [("TOPPADDING", (0, r), (-1, r), 0), ("BOTTOMPADDING", (0, r), (-1, r), 3)]
        if r < len(rows) - 1:
            cmds.append(("LINEBELOW", (0, r), (-1, r), 0.3, "#BBBBBB"))
    t.setStyle(TableStyle(cmds))
    return [t]


def sign_off(sec: rc.SignOffSection, width: float) -> Flowables:
    """A framed box: the interpretation (or ruled space to write it), then signature and date lines."""
    text = escape(sec.interpretation).replace("\n", "<br/>") if sec.interpretation else ""
    body = p(text, "body") if text else Spacer(1, 70)
    who = escape(sec.signed_by) if sec.signed_by else ""
    # One two-column table: the caption and the interpretation span both columns, the signature and
    # date share the last row, so every rule of the box starts and ends on the box's edges.
    box = Table([[p("Interpretation by the responsible clinician", "small"), ""], [body, ""],
                 [p(f"Signed: {who}", "body"), p("Date:", "body")]],
                colWidths=[0.65 * width, 0.35 * width], hAlign="LEFT", style=TableStyle([
                    ("SPAN", (0, 0), (-1, 0)), ("SPAN", (0, 1), (-1, 1)),
                    ("BOX", (0, 0), (-1, -1), 0.8, "#555555"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 6), ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                    ("TOPPADDING", (0, 2), (-1, 2), 4), ("BOTTOMPADDING", (0, 2), (-1, 2), 5),
                    ("LINEABOVE", (0, 2), (-1, 2), 0.4, "#999999")]))
    out: Flowables = [KeepTogether([box])]
    if sec.identifying_omitted:
        out.append(p("The signer's name is left out with the other identifying fields.", "small"))
    return out


RENDERERS: dict[type, Callable[[Any, float], Flowables]] = {
    rc.HeaderSection: header, rc.DisclaimerSection: disclaimer, rc.QualitySection: quality,
    rc.AffectSeriesSection: series, rc.VATableSection: va_table, rc.DynamicsSection: dynamics,
    rc.SnapshotSection: snapshots, rc.DiagnosisSection: diagnosis, rc.ModelsSection: models,
    rc.SignOffSection: sign_off,
}
