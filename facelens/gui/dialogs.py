"""Dialogs: import a session, preferences, About (version and model cards), and error messages."""
from __future__ import annotations

import datetime as _dt
import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import QDate, QSettings
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from facelens import __version__
from facelens.core.affect.choice import DEFAULT_ESTIMATOR
from facelens.viewmodel.settings import DEVICES, RECONSTRUCTIONS, VA_ESTIMATORS, AppSettings

VIDEO_FILTER = "Recordings (*.mp4 *.mov *.m4v *.avi *.mkv *.webm *.jpg *.jpeg *.png);;All files (*)"


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """A clear one-line (or short) message instead of a traceback."""
    QMessageBox.warning(parent, title, str(message).strip() or "unknown error")


def load_labels() -> tuple[list[str], list[str], str]:
    """Segment labels and scenarios from the label set, and a warning ('' when it loaded).

    A broken ``labels.toml`` must not stop the application, but it must not go unnoticed either:
    the defaults are used and the one-line reason is returned for the status bar.
    """
    try:
        from facelens.core.annotation.labels import default_label_set

        ls = default_label_set()
        return list(ls.names), list(ls.scenarios), ""
    except Exception as exc:  # noqa: BLE001 - LabelSetError, or anything a bad file provokes
        from facelens.core.annotation.segments import DEFAULT_LABELS, SCENARIOS

        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return list(DEFAULT_LABELS), list(SCENARIOS), f"Label file not used ({line}); default labels shown"


def scenarios() -> list[str]:
    return load_labels()[1]


class ImportSessionDialog(QDialog):
    """Video, patient pseudonym, date, scenario and notes of a new session."""

    def __init__(self, parent: QWidget | None = None, video: str | Path | None = None,
                 patients: list[str] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import session")
        self.setMinimumWidth(520)
        self.video_edit = QLineEdit(str(video or ""))
        self.video_edit.setPlaceholderText("the session recording (video file)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        vrow = QHBoxLayout()
        vrow.addWidget(self.video_edit, 1)
        vrow.addWidget(browse)
        self.patient_edit = QComboBox()
        self.patient_edit.setEditable(True)
        self.patient_edit.addItems(patients or [])
        self.patient_edit.setCurrentText("")
        self.patient_edit.lineEdit().setPlaceholderText("pseudonymous ID, e.g. P001 (never a name)")
        self.patient_edit.setToolTip("Only pseudonymous IDs are stored: letters, digits, - _ . and a digit")
        self.date_edit = QDateEdit(QDate.currentDate())
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setDisplayFormat("yyyy-MM-dd")
        self.scenario_box = QComboBox()
        self.scenario_box.addItems(scenarios())
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setPlaceholderText("notes (no identifying information)")
        self.notes_edit.setFixedHeight(80)
        form = QFormLayout()
        form.addRow("Recording", vrow)
        form.addRow("Patient ID", self.patient_edit)
        form.addRow("Date", self.date_edit)
        form.addRow("Scenario", self.scenario_box)
        form.addRow("Notes", self.notes_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose the session recording", "", VIDEO_FILTER)
        if path:
            self.video_edit.setText(path)

    def values(self) -> dict[str, Any]:
        return {"video": Path(self.video_edit.text().strip()), "patient": self.patient_edit.currentText().strip(),
                "date": self.date_edit.date().toString("yyyy-MM-dd"), "scenario": self.scenario_box.currentText(),
                "notes": self.notes_edit.toPlainText().strip()}

    def _accept(self) -> None:
        v = self.values()
        if not v["video"].is_file():
            show_error(self, "Import session", f"Recording not found: {v['video']}")
            return
        if not v["patient"]:
            show_error(self, "Import session", "Enter the patient's pseudonymous ID (e.g. P001).")
            return
        self.accept()


class PreferencesDialog(QDialog):
    """Analysis device, valence/arousal estimator, reconstruction and the annotator's name."""

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self.settings = settings
        self.device_box = QComboBox()
        self.device_box.addItems(["auto", "CPU", "GPU (CUDA)"])
        self.device_box.setToolTip("auto uses a CUDA GPU when one is available, else the CPU")
        self.prefs = AppSettings(settings)
        dev = self.prefs.device
        self.device_box.setCurrentIndex(DEVICES.index(dev) if dev in DEVICES else 0)
        self.va_box = QComboBox()
        names = {"circumplex": "circumplex: FER2013 + geometry on word norms",
                 "g": "G: temporal regressor (trained on synthetic faces)"}
        self.va_box.addItems([names[e] + (" (default)" if e == DEFAULT_ESTIMATOR else "") for e in VA_ESTIMATORS])
        self.va_box.setToolTip("How valence and arousal are estimated (facelens analyze --va); docs/validity.md "
                               "compares the two and says why G is the default")
        self.va_box.setCurrentIndex(VA_ESTIMATORS.index(self.prefs.va_estimator))
        self.recon_box = QComboBox()
        self.recon_box.addItems(["morphable-model fit (default)", "AsmV2L network (small CPU model)"])
        self.recon_box.setToolTip("Per-frame expression coefficients (facelens analyze --reconstruction); the "
                                  "shipped AsmV2L weights are a small CPU model (docs/asmv2l.md)")
        self.recon_box.setCurrentIndex(RECONSTRUCTIONS.index(self.prefs.reconstruction))
        self.author_edit = QLineEdit(self.prefs.author)
        self.author_edit.setPlaceholderText("your initials or annotator code")
        form = QFormLayout(self)
        form.addRow("Analysis device", self.device_box)
        form.addRow("Valence/arousal", self.va_box)
        form.addRow("Reconstruction", self.recon_box)
        form.addRow("Annotator", self.author_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._save)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def _save(self) -> None:
        self.prefs.device = DEVICES[self.device_box.currentIndex()]
        self.prefs.va_estimator = VA_ESTIMATORS[self.va_box.currentIndex()]
        self.prefs.reconstruction = RECONSTRUCTIONS[self.recon_box.currentIndex()]
        self.prefs.author = self.author_edit.text()
        self.accept()


def model_cards() -> tuple[list[dict[str, Any]], str]:
    """Model cards from the registry, and the one-line error when it could not be read ('' if fine)."""
    try:
        from facelens.core import registry as models

        cards = models.cards() if hasattr(models, "cards") else models.registry().cards()  # type: ignore[attr-defined]
        return [c if isinstance(c, dict) else getattr(c, "__dict__", {"id": str(c)}) for c in cards], ""
    except Exception as exc:  # noqa: BLE001 - shown in the About box instead of an empty list
        line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return [], f"{type(exc).__name__}: {line}"


def _card_value(v: Any) -> str:
    """A card field as text: nested tables as ``key: value; …`` and lists joined, not Python reprs."""
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_card_value(x)}" for k, x in v.items() if x not in (None, "", [], {}))
    if isinstance(v, (list, tuple)):
        return ", ".join(_card_value(x) for x in v)
    return str(v)


def about_html(models_in_use: list[dict[str, Any]] | None = None) -> str:
    parts = [f"<h2>FaceLens {html.escape(__version__)}</h2>",
             ("<p>Facial affective dynamics from recorded sessions. <b>Research and decision support only</b>: "
              "not a diagnostic device. Results must be interpreted by a qualified clinician.</p>"),
             f"<p>© {_dt.date.today().year} FaceLens project.</p>", "<h3>Model cards</h3>"]
    cards, error = model_cards()
    if error:
        parts.append(f"<p style='color:#B71C1C'><b>The model registry could not be read:</b> "
                     f"{html.escape(error)}</p>")
        if models_in_use:
            parts.append("<p>Models recorded in the open session's results:</p>")
    if not cards and models_in_use:
        cards = models_in_use
    if not cards and not error:
        parts.append("<p>The model registry lists no models.</p>")
    for c in cards:
        title = html.escape(str(c.get("id", c.get("name", "model"))))
        rows = "".join(f"<tr><td><i>{html.escape(str(k))}</i></td><td>{html.escape(_card_value(v))}</td></tr>"
                       for k, v in c.items() if k not in ("id",) and v not in (None, "", [], {}))
        parts.append(f"<h4>{title}</h4><table cellspacing='4'>{rows}</table>")
    return "".join(parts)


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None, models_in_use: list[dict[str, Any]] | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About FaceLens")
        self.resize(640, 560)
        view = QTextBrowser()
        view.setHtml(about_html(models_in_use))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(view)
        lay.addWidget(buttons)


MOUSE_HELP = (
    ("Seek", "click or drag on the valence/arousal plots, or drag the red cursor"),
    ("Zoom / pan time", "mouse wheel / right-drag on the plots"),
    ("New segment", "left-drag on the segment strip; Shift+drag over an existing segment (e.g. an exclusion)"),
    ("Move / resize a segment", "drag its middle / its edges on the segment strip"),
    ("3D face", "orbit with left-drag, zoom with the wheel"),
    ("Reason for a gap", "hover a grey tick under the curves"),
)


def shortcut_rows(actions: list[Any]) -> list[tuple[str, str]]:
    """(action, keys) for every action with a shortcut, in menu order, without duplicates."""
    from PySide6.QtGui import QKeySequence

    rows: list[tuple[str, str]] = []
    seen: set[str] = set()
    for a in actions:
        keys = " or ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts())
        name = a.text().replace("&", "").rstrip("…")
        if keys and name not in seen:
            seen.add(name)
            rows.append((name, keys))
    return rows


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: built from the window's actions, so it never goes stale."""

    def __init__(self, parent: QWidget | None, actions: list[Any]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 620)
        self.rows = shortcut_rows(actions)
        keys = "".join(f"<tr><td>{html.escape(n)}</td><td><b>{html.escape(k)}</b></td></tr>" for n, k in self.rows)
        mouse = "".join(f"<tr><td>{html.escape(n)}</td><td>{html.escape(k)}</td></tr>" for n, k in MOUSE_HELP)
        view = QTextBrowser()
        view.setHtml(f"<h3>Keys</h3><table cellspacing='4'>{keys}</table>"
                     f"<h3>Mouse</h3><table cellspacing='4'>{mouse}</table>")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(view)
        lay.addWidget(buttons)
