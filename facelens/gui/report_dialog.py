"""The "Export report…" dialog (page size, identifying fields, output path) and a preview of the
written PDF's first pages.

The preview is rendered by poppler's ``pdftoppm`` when it is installed (PySide6-Essentials has no
QtPdf module); without it the dialog says so and offers to open the file's folder instead.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, QUrl
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from facelens.core.common.paths import user_path
from facelens.viewmodel.settings import AppSettings

PAGE_SIZES = ("A4", "Letter")
PREVIEW_PAGES = 2


class ReportDialog(QDialog):
    """Options of a report export; ``values()`` gives ``out``, ``page_size``, ``include_identifying``."""

    def __init__(self, parent: QWidget | None, settings: QSettings, default_name: str | Path) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export report")
        self.setMinimumWidth(560)
        self.settings = settings
        self.prefs = AppSettings(settings)
        # An absolute default (the workspace's reports/ folder) is used as it is; a bare name goes into
        # the folder used last.
        default = Path(default_name)
        if not default.is_absolute():
            default = Path(self.prefs.report_dir or str(Path.home())) / default
        self.page_box = QComboBox()
        self.page_box.addItems(PAGE_SIZES)
        self.page_box.setCurrentText(self.prefs.report_page_size)
        self.page_box.setToolTip("Paper size of the PDF")
        self.identifying_box = QCheckBox("Leave identifying fields out (patient ID, date, clinician, annotators)")
        self.identifying_box.setToolTip("The fields are left out of the PDF entirely, not blanked; "
                                        "use it for reports that leave the clinic")
        self.identifying_box.setChecked(self.prefs.report_no_identifying)
        self.model_box = QCheckBox("Include the BD-vs-MDD model output (research use)")
        self.model_box.setToolTip("Uses the model chosen under Diagnosis → Cohort…, else the shipped reference "
                                  "model; the report states its model card and whether it is simulated")
        self.model_box.setChecked(self.prefs.report_use_model)
        self.clinician_edit = QLineEdit(self.prefs.clinician)
        self.clinician_edit.setPlaceholderText("responsible clinician (printed in the header)")
        self.clinician_edit.setToolTip("Printed in the report header unless identifying fields are left out")
        self.interpretation_edit = QPlainTextEdit()
        self.interpretation_edit.setPlaceholderText("clinical interpretation (optional; a blank box is printed "
                                                    "for handwriting when empty)")
        self.interpretation_edit.setFixedHeight(70)
        self.interpretation_edit.setToolTip("The clinician's reading of the findings, printed in the sign-off box")
        self.signed_edit = QLineEdit("")
        self.signed_edit.setPlaceholderText("signed off by (optional)")
        self.signed_edit.setToolTip("Name printed on the sign-off line; leave empty to sign on paper")
        self.path_edit = QLineEdit(str(default))
        self.path_edit.setToolTip("Where the PDF is written (written to a temporary file, then renamed)")
        browse = QPushButton("Browse…")
        browse.setToolTip("Choose the output file")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.preview_box = QCheckBox("Show a preview of the first pages when done")
        self.preview_box.setToolTip("Rendered with pdftoppm (poppler) when installed")
        self.preview_box.setChecked(True)
        form = QFormLayout()
        form.addRow("Page size", self.page_box)
        form.addRow("", self.identifying_box)
        form.addRow("", self.model_box)
        form.addRow("Clinician", self.clinician_edit)
        form.addRow("Interpretation", self.interpretation_edit)
        form.addRow("Signed off by", self.signed_edit)
        form.addRow("Save as", row)
        form.addRow("", self.preview_box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        self.error_label = QLabel("")
        self.error_label.setObjectName("errorLabel")
        lay.addWidget(self.error_label)
        lay.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save report", self.path_edit.text(), "PDF (*.pdf)")
        if path:
            self.path_edit.setText(path if path.lower().endswith(".pdf") else path + ".pdf")

    def _accept(self) -> None:
        out = user_path(self.path_edit.text().strip())
        if not out.name or out.suffix.lower() != ".pdf":
            self.error_label.setText("The file name must end in .pdf")
            return
        if not out.parent.is_dir():
            self.error_label.setText(f"The folder {out.parent} does not exist")
            return
        s = self.prefs
        s.report_dir = str(out.parent)
        s.report_page_size = self.page_box.currentText()
        s.report_no_identifying = self.identifying_box.isChecked()
        s.report_use_model = self.model_box.isChecked()
        s.clinician = self.clinician_edit.text()
        self.accept()

    def values(self) -> dict[str, Any]:
        return {"out": str(user_path(self.path_edit.text().strip())),
                "page_size": self.page_box.currentText(),
                "include_identifying": not self.identifying_box.isChecked(),
                "use_model": self.model_box.isChecked(), "clinician": self.clinician_edit.text().strip(),
                "interpretation": self.interpretation_edit.toPlainText().strip(),
                "signed_by": self.signed_edit.text().strip()}

    def preview_wanted(self) -> bool:
        return self.preview_box.isChecked()


def render_pages(pdf: Path, out_dir: Path, pages: int = PREVIEW_PAGES, dpi: int = 60) -> list[Path]:
    """PNG images of the first ``pages`` pages (empty when ``pdftoppm`` is missing or fails)."""
    exe = shutil.which("pdftoppm")
    if exe is None:
        return []
    try:
        subprocess.run([exe, "-png", "-r", str(dpi), "-f", "1", "-l", str(pages), str(pdf), str(out_dir / "p")],
                       check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(out_dir.glob("p*.png"))


class ReportPreview(QDialog):
    """The first pages of a written report, side by side, with *Open file* and *Open folder*."""

    def __init__(self, parent: QWidget | None, pdf: Path) -> None:
        super().__init__(parent)
        self.pdf = Path(pdf)
        self.setWindowTitle(f"Report written — {self.pdf.name}")
        self.resize(980, 760)
        self._tmp = tempfile.TemporaryDirectory(prefix="facelens-preview-")
        self.pages = render_pages(self.pdf, Path(self._tmp.name))
        strip = QWidget()
        row = QHBoxLayout(strip)
        for png in self.pages:
            lab = QLabel()
            lab.setPixmap(QPixmap(str(png)))
            lab.setObjectName("reportPage")
            lab.setToolTip(f"page {png.stem.lstrip('p-').lstrip('0') or '1'} of the report")
            row.addWidget(lab)
        if not self.pages:
            row.addWidget(QLabel("No preview: install poppler-utils (pdftoppm) to see the pages here."))
        scroll = QScrollArea()
        scroll.setWidget(strip)
        scroll.setAlignment(Qt.AlignmentFlag.AlignCenter)
        open_file = QPushButton("Open file")
        open_file.setToolTip("Open the PDF in the system's viewer")
        open_file.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.pdf))))
        open_dir = QPushButton("Open folder")
        open_dir.setToolTip(f"Show {self.pdf.parent} in the file manager")
        open_dir.clicked.connect(lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.pdf.parent))))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(open_file, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(open_dir, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"Written to <b>{self.pdf}</b>"))
        lay.addWidget(scroll, 1)
        lay.addWidget(buttons)

    def done(self, r: int) -> None:
        super().done(r)
        self._tmp.cleanup()
