"""The "Diagnosis support" panel: BD-versus-MDD probability for the open session's patient.

Shows the probability of BD (versus MDD) with the range over the cross-validation fold models, the
features that moved it most, the model card's summary and — prominently — when the model was trained
on simulated data and is therefore not validated on patients. When the input is not enough the model
refuses, and the panel shows the refusal and its reason instead of a number. The computation itself
lives in ``facelens.core.diagnosis.model``; :class:`facelens.gui.controllers.diagnosis.DiagnosisController` runs it and keeps the result tied to its inputs.
"""
from __future__ import annotations

import html
import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from facelens.core.diagnosis.feature_names import describe_driver, plain_name
from facelens.core.validation.statement import VALIDITY_CAPTION

SIMULATED_NOTICE = ("Model trained on SIMULATED data — not validated on patients. "
                    "The number shows how the software works, not this patient's diagnosis.")


def card_summary(card: dict[str, Any]) -> str:
    """One short HTML paragraph from a model card: id, cohort, classifier, CV AUC and accuracy."""
    if not card:
        return "No model card."
    co = card.get("cohort", {}) or {}
    n = co.get("n_subjects", {})
    n_txt = ", ".join(f"{k} {v}" for k, v in n.items()) if isinstance(n, dict) else str(n)
    cv = (card.get("cv", {}) or {}).get("metrics", {}) or {}

    def metric(name: str) -> str:
        m = cv.get(name)
        return f"{m['mean']:.2f} ± {m['sd']:.2f}" if isinstance(m, dict) and "mean" in m else "—"

    return (f"<b>{html.escape(str(card.get('model_id', '?')))}</b> · {html.escape(str(card.get('classifier', '')))}"
            f" · trained on {html.escape(n_txt)} subjects ({html.escape(str(card.get('created', '')))})<br>"
            f"Cross-validated AUC {metric('AUC')}, accuracy {metric('ACC')} "
            f"({html.escape(str((card.get('cv') or {}).get('scheme', '')))})<br>"
            f"<i>{html.escape(str(card.get('statement', '')))}</i>")


class DiagnosisPanel(QWidget):
    """Shows a :class:`Prediction` or :class:`Refusal`; *Compute* asks the window to run the model."""

    compute_requested = Signal()
    cohort_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.notice = QLabel("")
        self.notice.setObjectName("simulatedNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        # Out of date: the result no longer matches the data on screen (see viewmodel.app_model).
        self.stale = QLabel("")
        self.stale.setObjectName("staleNotice")
        self.stale.setWordWrap(True)
        self.stale.setStyleSheet("background: #FFE0B2; color: #7A3E00; border: 1px solid #E65100; padding: 4px;")
        self.stale.hide()
        self.quality = QLabel("")
        self.quality.setObjectName("qualityWarnings")
        self.quality.setWordWrap(True)
        self.quality.setStyleSheet("color: #8A4B00;")
        self.quality.hide()
        # The open session's fixed neutral baseline and the neutral segments far from it
        # (facelens.core.dynamics.baseline; kept current by controllers.diagnosis.BaselineShown).
        self.baseline = QLabel("")
        self.baseline.setObjectName("neutralBaseline")
        self.baseline.setWordWrap(True)
        self.baseline.setTextFormat(Qt.TextFormat.RichText)
        self.baseline.hide()
        self.subject = QLabel("")
        self.subject.setObjectName("diagnosisSubject")
        self.subject.setToolTip("The patient and sessions this result was computed from")
        self.headline = QLabel("Open an analysed session with happy and sad segments, then press Compute.")
        self.headline.setObjectName("diagnosisHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextFormat(Qt.TextFormat.RichText)
        self.drivers = QTableWidget(0, 3)
        self.drivers.setHorizontalHeaderLabels(["Feature", "Value", "Push (log-odds)"])
        self.drivers.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # The numeric columns fit their header ("Push (log-odds)" was cut off in a 330-px dock).
        for col in (1, 2):
            self.drivers.horizontalHeader().setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.drivers.verticalHeader().hide()
        self.drivers.setWordWrap(True)  # plain-language names wrap instead of being cut off
        self.drivers.setMinimumHeight(4 * (self.fontMetrics().height() + 10) + 24)  # four rows at least
        self.validity = QLabel(f"<small>{html.escape(VALIDITY_CAPTION)}</small>")
        self.validity.setWordWrap(True)
        self.validity.setToolTip("What the valence/arousal measurement has and has not been validated against")
        self.drivers.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.drivers.setToolTip("The features that moved the probability most: positive pushes towards BD, "
                                "negative towards MDD (contribution to the log-odds of the final model)")
        self.card = QLabel("")
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setToolTip("Summary of the model card (full card: Help → About)")
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)  # a long model name must not widen the dock (and the window)
        self.model_label.setToolTip("The model in use; change it under Diagnosis → Cohort…")
        self.compute_button = QPushButton("Compute")
        self.compute_button.setToolTip("Predict BD vs MDD from all analysed sessions of this patient "
                                       "(needs happy and sad segments); the result is recorded in the workspace")
        self.compute_button.clicked.connect(self.compute_requested)
        cohort = QPushButton("Cohort…")
        cohort.setToolTip("Train a model from a cohort manifest, or choose the model used here")
        cohort.clicked.connect(self.cohort_requested)
        row = QHBoxLayout()
        row.addWidget(self.compute_button)
        row.addWidget(cohort)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.stale)
        lay.addWidget(self.notice)
        lay.addWidget(self.subject)
        lay.addWidget(self.headline)
        lay.addWidget(self.quality)
        lay.addWidget(self.baseline)
        lay.addWidget(QLabel("Top drivers"))
        lay.addWidget(self.drivers, 1)
        lay.addWidget(self.card)
        lay.addWidget(self.validity)
        lay.addWidget(self.model_label)
        lay.addLayout(row)
        self.result: Any = None

    def set_model_name(self, text: str) -> None:
        self.model_label.setText(f"Model: {text}")

    def clear(self, message: str = "") -> None:
        self.result = None
        self.stale.hide()
        self.subject.setText("")
        self.quality.hide()
        self.notice.hide()
        self.drivers.setRowCount(0)
        self.card.setText("")
        self.headline.setText(message or "Open an analysed session with happy and sad segments, then press Compute.")

    def set_baseline(self, summary: Any = None, message: str = "", note: str = "", detail: str = "") -> None:
        """Show a ``BaselineSummary`` (source line, one short line per flagged neutral segment, ``note``
        under them; the flags in full and ``detail`` as the tooltip), or ``message`` alone; nothing
        when both are empty."""
        if summary is None:
            self.baseline.setText(f"<small>{html.escape(message)}</small>" if message else "")
            self.baseline.setToolTip("")
            self.baseline.setVisible(bool(message))
            return
        # Short lines here: the dock is narrow and the drivers table needs its rows.
        flags = "".join(f"<br><span style='color:#8A4B00'>⚠ {html.escape(f.short())}</span>" for f in summary.flagged)
        self.baseline.setText(f"<b>Neutral baseline:</b> {html.escape(summary.describe())}{flags}"
                              + (f"<br><small>{html.escape(note)}</small>" if note else ""))
        self.baseline.setToolTip("\n".join([summary.headline(), *summary.flags, detail]).strip())
        self.baseline.show()

    def set_stale(self, reason: str) -> None:
        """Mark the shown result out of date (``reason``) or current (``""``)."""
        self.stale.setText(f"<b>Out of date</b> — {html.escape(reason)}. This result does not describe the "
                           "data on screen; press Compute again." if reason else "")
        self.stale.setVisible(bool(reason))
        self.headline.setEnabled(not reason)
        self.drivers.setEnabled(not reason)

    def show_result(self, result: Any, card: dict[str, Any], subject: str = "",
                    warnings: tuple[str, ...] | list[str] = ()) -> None:
        """Show a ``Prediction`` or a ``Refusal`` (duck-typed on ``probability_bd``) and the data-quality
        warnings of its inputs (per label: unusable share, missing label)."""
        self.result = result
        self.subject.setText(subject)
        self.quality.setText("<br>".join(f"⚠ {html.escape(w)}" for w in warnings))
        self.quality.setVisible(bool(warnings))
        simulated = bool(card.get("simulated", True))
        self.notice.setText(SIMULATED_NOTICE)
        self.notice.setVisible(simulated)
        self.card.setText(card_summary(card))
        if not hasattr(result, "probability_bd"):
            self.drivers.setRowCount(0)
            self.headline.setText(f"<b>No prediction.</b> The model declined: {html.escape(result.reason)}.")
            return
        p, (lo, hi) = result.probability_bd, result.interval
        extra = []
        if result.imputed_features:
            names = "; ".join(plain_name(f)[0] for f in result.imputed_features)
            extra.append(f"Not measured in this patient, so the training average was used for: {names}.")
        if getattr(result, "out_of_range", None):
            names = "; ".join(plain_name(f)[0] for f in result.out_of_range)
            extra.append(f"Outside the range of the training subjects (the model extrapolates): {names}.")
        note = ("<br><small>" + html.escape(" ".join(extra)) + "</small>") if extra else ""
        self.headline.setText(
            f"Probability of <b>BD</b> (vs MDD): <b>{p:.2f}</b> "
            f"<span title='{html.escape(result.interval_method)}'>(fold models {lo:.2f}–{hi:.2f})</span> "
            f"— leaning {result.leaning}; {result.n_sessions} session(s).<br>"
            "<small>Decision support for research; not a diagnosis.</small>" + note)
        self.drivers.setRowCount(len(result.drivers))
        for i, d in enumerate(result.drivers):
            words, unit = plain_name(d.feature)
            measured = not d.imputed and math.isfinite(d.value)
            val = f"{d.value:.3g}" + (f" {unit}" if unit else "") if measured else "not measured"
            cells = (words, val, f"{d.contribution:+.2f} {'→ BD' if d.contribution > 0 else '→ MDD'}")
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(describe_driver(d.feature, d.value, d.contribution, d.imputed)
                                + f"\n(model feature: {d.feature})")
                if j:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.drivers.setItem(i, j, item)
        self.drivers.resizeRowsToContents()
