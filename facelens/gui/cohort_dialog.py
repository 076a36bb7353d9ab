"""The "Cohort…" dialog: train a BD-vs-MDD model from a cohort manifest in a worker, show its
cross-validation metrics, and choose the model the Diagnosis panel uses (kept in preferences under
``diagnosis/model``; empty = the shipped reference model).
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from facelens.core.common.paths import user_path
from facelens.gui.jobs import JobCancelled, JobFailed, run_job
from facelens.viewmodel.settings import KEYS, AppSettings

MODEL_KEY = KEYS["model_path"]  # the store key, for tests that inspect the settings file


def train_job(manifest: Path, out_dir: Path, classifier: str, folds: int) -> Any:
    """The worker function: load the cohort, cross-validate, fit and save the model (atomic files)."""

    def job(report: Any, cancelled: Any) -> dict[str, Any]:
        from facelens.core.diagnosis.cohort import load_cohort, train_model
        from facelens.core.diagnosis.model import save_model

        report(0.05, f"Reading the cohort in {manifest.name}…")
        cohort = load_cohort(manifest)
        if cancelled():
            raise JobCancelled()
        report(0.4, f"Cross-validating ({folds} folds, subject-level) and fitting the final model…")
        model, cv = train_model(cohort, classifier=classifier, n_splits=folds)
        if cancelled():  # nothing written yet: cancelling leaves no half model behind
            raise JobCancelled()
        report(0.9, "Saving model.json and MODEL_CARD.md…")
        save_model(model, out_dir)
        return {"dir": str(out_dir), "summary": cv.summary(), "card": model.card,
                "n_subjects": len(cohort.subject_ids)}

    return job


class CohortDialog(QDialog):
    """Train from a manifest, see the CV metrics, choose the model used by the Diagnosis panel."""

    def __init__(self, parent: QWidget | None, settings: QSettings) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cohort: train or choose the BD-vs-MDD model")
        self.setMinimumWidth(620)
        self.settings = settings
        self.manifest_edit = QLineEdit()
        self.manifest_edit.setPlaceholderText("manifest.csv: subject_id, diagnosis (BD/MDD), results, segments")
        self.manifest_edit.setToolTip("Cohort manifest; paths inside it are relative to the manifest's folder")
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("folder for model.json and MODEL_CARD.md")
        self.out_edit.setToolTip("Where the trained model is saved (created if missing)")
        self.classifier_box = QComboBox()
        self.classifier_box.addItems(["logreg", "gboost"])
        self.classifier_box.setToolTip("logreg: L2 logistic regression (default); gboost: gradient boosting")
        self.folds_box = QSpinBox()
        self.folds_box.setRange(2, 10)
        self.folds_box.setValue(5)
        self.folds_box.setToolTip("Subject-level cross-validation folds")
        form = QFormLayout()
        form.addRow("Manifest", self._with_browse(self.manifest_edit, self._browse_manifest))
        form.addRow("Save model in", self._with_browse(self.out_edit, self._browse_out))
        form.addRow("Classifier", self.classifier_box)
        form.addRow("CV folds", self.folds_box)
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Cross-validate and train in the background (progress and Cancel)")
        self.train_button.clicked.connect(self.train)
        self.results = QTextBrowser()
        self.results.setToolTip("Cross-validation metrics of the last training (mean ± SD over folds)")
        self.current = QLabel("")
        self.current.setWordWrap(True)
        use_trained = QPushButton("Use this model")
        use_trained.setToolTip("The Diagnosis panel and reports use the model just trained (or chosen)")
        use_trained.clicked.connect(self._use_trained)
        choose = QPushButton("Choose model folder…")
        choose.setToolTip("Use an existing model folder (with model.json)")
        choose.clicked.connect(self._choose_model)
        reference = QPushButton("Use reference model")
        reference.setToolTip("The shipped reference model (trained on simulated data)")
        reference.clicked.connect(lambda: self.set_model(""))
        row = QHBoxLayout()
        for b in (use_trained, choose, reference):
            row.addWidget(b)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(self.train_button)
        lay.addWidget(self.results, 1)
        lay.addWidget(self.current)
        lay.addLayout(row)
        lay.addWidget(buttons)
        self.trained: dict[str, Any] | None = None
        self._show_current()

    @staticmethod
    def _with_browse(edit: QLineEdit, slot: Any) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        b = QPushButton("Browse…")
        b.setToolTip("Choose with a file dialog")
        b.clicked.connect(slot)
        row.addWidget(b)
        return row

    def _browse_manifest(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Cohort manifest", "", "CSV (*.csv)")
        if path:
            self.manifest_edit.setText(path)
            if not self.out_edit.text():
                self.out_edit.setText(str(Path(path).parent / "model"))

    def _browse_out(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Save the model in")
        if d:
            self.out_edit.setText(d)

    def _choose_model(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Model folder (with model.json)")
        if d:
            self.set_model(d)

    def model_path(self) -> str:
        return str(AppSettings(self.settings).model_path)

    def set_model(self, folder: str) -> bool:
        """Select the model (``""``: the reference); refuses a folder that is not a usable model."""
        from facelens.core.diagnosis.model import DiagnosisModelError, load_model

        try:
            model = load_model(folder or None)
        except (DiagnosisModelError, OSError, ValueError) as exc:
            self.current.setText(f"<span style='color:#b00020'>Not a usable model: {html.escape(str(exc))}</span>")
            return False
        prefs = AppSettings(self.settings)
        prefs.model_path = folder
        prefs.sync()
        self._show_current(model.card)
        return True

    def _use_trained(self) -> None:
        if self.trained is None:
            self.current.setText("Train a model first (or choose a model folder).")
            return
        self.set_model(self.trained["dir"])

    def _show_current(self, card: dict[str, Any] | None = None) -> None:
        path = self.model_path()
        if card is None:
            try:
                from facelens.core.diagnosis.model import load_model

                card = load_model(path or None).card
            except Exception:  # noqa: BLE001 - shown as unknown; the panel reports the real error
                card = {}
        sim = " — <b>simulated training data</b>" if card.get("simulated", True) else ""
        self.current.setText(f"Model in use: <b>{html.escape(path or 'shipped reference model')}</b> "
                             f"({html.escape(str(card.get('model_id', '?')))}){sim}")

    def train(self) -> dict[str, Any] | None:
        manifest = user_path(self.manifest_edit.text().strip())
        out = user_path(self.out_edit.text().strip() or str(manifest.parent / "model"))
        if not manifest.is_file():
            self.results.setHtml(f"<p>Manifest not found: {html.escape(str(manifest))}</p>")
            return None
        job = train_job(manifest, out, self.classifier_box.currentText(), self.folds_box.value())
        try:
            res = run_job(self, "Train model", job, label="Training the BD-vs-MDD model…")
        except JobCancelled:
            self.results.setHtml("<p>Training cancelled; no model was written.</p>")
            return None
        except JobFailed as exc:
            self.results.setHtml(f"<p><b>Training failed:</b> {html.escape(str(exc))}</p>")
            return None
        self.trained = res
        self.results.setHtml(metrics_html(res))
        return res


def metrics_html(res: dict[str, Any]) -> str:
    """The CV metrics table of a training result (mean ± SD over folds)."""
    card = res["card"]
    rows = "".join(f"<tr><td>{html.escape(m)}</td><td align='right'>{v['mean']:.3f} ± {v['sd']:.3f}</td></tr>"
                   for m, v in res["summary"].items())
    warn = ("<p style='color:#b00020'><b>Simulated cohort: these metrics describe the simulation, "
            "not patients.</b></p>") if card.get("simulated") else ""
    return (f"{warn}<p>{res['n_subjects']} subjects · {html.escape(card['cv']['scheme'])}</p>"
            f"<table cellpadding='3'><tr><th align='left'>metric</th><th>mean ± SD</th></tr>{rows}</table>"
            f"<p>Saved in {html.escape(res['dir'])}</p>")
