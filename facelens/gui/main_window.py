"""The FaceLens main window: workspace, sessions, background analysis and the synchronised review view.

Layout (docks can be moved; the layout is remembered): sessions on the left; video, 3D face and
circumplex along the top; the valence/arousal/segment timeline with the transport bar in the centre;
the segment table on the right. Workspace operations and segment editing live in
:mod:`facelens.gui.workspace_ops` (a mixin) to keep this file readable.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from facelens import __version__
from facelens.gui import window_layout
from facelens.gui.analysis import AnalysisQueue
from facelens.gui.circumplex import CircumplexWidget
from facelens.gui.controllers.analysis import AnalysisController
from facelens.gui.controllers.annotation import AnnotationController
from facelens.gui.controllers.diagnosis import DiagnosisController
from facelens.gui.controllers.report import ReportController
from facelens.gui.diagnosis_panel import DiagnosisPanel
from facelens.gui.dialogs import load_labels
from facelens.gui.face_view import FaceView
from facelens.gui.measures import MeasuresWidget
from facelens.gui.menus import build_actions
from facelens.gui.review import SPEEDS, ReviewController
from facelens.gui.segment_panel import SegmentPanel
from facelens.gui.sessions_panel import SessionsPanel
from facelens.gui.task_ops import TaskOps
from facelens.gui.timeline import TimelineWidget
from facelens.gui.video_view import VideoView
from facelens.gui.window_layout import LAYOUT_VERSION, TOP_ROW_FRACTION_SMALL  # noqa: F401 - re-exported
from facelens.gui.workspace_ops import WorkspaceOps
from facelens.viewmodel.app_model import AppModel
from facelens.viewmodel.settings import AppSettings


def label_names() -> list[str]:
    """Segment label names (the defaults when the label file is broken; see ``dialogs.load_labels``)."""
    return load_labels()[0]


def overlap_rule() -> str:
    """The label set's rule for segments of different labels overlapping ("refuse" when unreadable)."""
    try:
        from facelens.core.annotation.labels import default_label_set

        return default_label_set().overlap
    except Exception:  # noqa: BLE001 - a broken label file is reported by load_labels
        return "refuse"


def fmt_time(t: float) -> str:
    m, s = divmod(max(0.0, t), 60.0)
    return f"{int(m):02d}:{s:05.2f}"


class MainWindow(TaskOps, WorkspaceOps, QMainWindow):
    """The application window. ``settings`` is injected so tests use a temporary one."""

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.prefs = AppSettings(self.settings)
        self.model = AppModel()
        self.workspace: Any = None
        self.setWindowTitle(f"FaceLens {__version__}")
        self.setObjectName("MainWindow")
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        self.labels, scenario_names, self.labels_warning = load_labels()
        # -- views -------------------------------------------------------------------------------
        self.sessions = SessionsPanel()
        self.video = VideoView()
        self.face = FaceView()
        self.timeline = TimelineWidget()
        self.circumplex = CircumplexWidget()
        self.measures = MeasuresWidget()
        self.measures.link_x(self.timeline.valence_plot)
        self.segments = SegmentPanel(self.labels, scenario_names)
        self.diagnosis = DiagnosisPanel()
        self.diagnosis_ctl = DiagnosisController(self, self.model, self.prefs, self.diagnosis, lambda: self.workspace)
        self.review = ReviewController(self.video, self.face, self.timeline, self.circumplex, self)
        self.queue = AnalysisQueue(self)
        self.analysis_ctl = AnalysisController(self, self.model, self.prefs, self.queue)
        self.annotation_ctl = AnnotationController(self, self.model, self.prefs, overlap_rule())
        self.report_ctl = ReportController(self, self.model, self.prefs)
        self.banner = QLabel("")
        self.banner.setObjectName("demoBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(4, 2, 4, 2)
        cl.setSpacing(2)
        cl.addWidget(self.banner)
        cl.addLayout(self._transport_bar())
        cl.addWidget(self.timeline, 1)
        self.setCentralWidget(central)
        self.docks: dict[str, QDockWidget] = {}
        self._dock("sessions", "Sessions", self.sessions, Qt.DockWidgetArea.LeftDockWidgetArea)
        self._dock("video", "Video", self.video, Qt.DockWidgetArea.TopDockWidgetArea)
        self._dock("face", "3D face", self.face, Qt.DockWidgetArea.TopDockWidgetArea)
        # Circumplex and measures share one dock as two pages: a tabified dock pair left a stray copy of
        # its tab bar over the 3D view (Qt main-window tab bars, seen in screenshots).
        self.top_tabs = QTabWidget()
        self.top_tabs.addTab(self.circumplex, "Circumplex")
        self.top_tabs.addTab(self.measures, "Emotions · expressions · pose · quality")
        self.top_tabs.setTabToolTip(0, "Valence–arousal circumplex: the trajectory and the current point")
        self.top_tabs.setTabToolTip(1, "Per-frame measures on the session's time axis")
        self._dock("circumplex", "Valence–arousal and measures", self.top_tabs, Qt.DockWidgetArea.TopDockWidgetArea)
        self._dock("segments", "Segments", self.segments, Qt.DockWidgetArea.RightDockWidgetArea)
        self._dock("diagnosis", "Diagnosis support (BD vs MDD)", self.diagnosis, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.docks["segments"], self.docks["diagnosis"])
        self.docks["segments"].raise_()
        self.splitDockWidget(self.docks["video"], self.docks["face"], Qt.Orientation.Horizontal)
        self.splitDockWidget(self.docks["face"], self.docks["circumplex"], Qt.Orientation.Horizontal)
        # The measures' cursor moves once per sampled frame shown, not on every playback tick.
        self.review.frame_shown.connect(self._on_frame_shown)
        self.default_state = self.saveState(LAYOUT_VERSION)
        build_actions(self)
        self.models_label = QLabel("")
        self.models_label.setToolTip("Models that produced the open session's results")
        self.time_label_status = QLabel("")
        self.statusBar().addPermanentWidget(self.models_label)
        # A broken labels.toml: say so for as long as the window is open (a timed message is missed).
        self.labels_warning_label = QLabel(f"⚠ {self.labels_warning}" if self.labels_warning else "")
        self.labels_warning_label.setObjectName("labelsWarning")
        self.labels_warning_label.setStyleSheet("color: #B71C1C;")
        self.labels_warning_label.setToolTip("Fix the label file (see docs/gui.md) and restart FaceLens")
        self.labels_warning_label.setVisible(bool(self.labels_warning))
        self.statusBar().addWidget(self.labels_warning_label)
        self.model.events.message.connect(self._on_message)
        self.review.state.playhead_changed.connect(self._on_playhead)
        self.review.state.playing_changed.connect(self._on_playing)
        self.init_ops()
        self.init_tasks()
        window_layout.restore_layout(self)

    # -- construction --------------------------------------------------------------------------
    def _dock(self, key: str, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{key}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.docks[key] = dock
        return dock

    def _tool(self, text: str, tip: str, slot: Any) -> QToolButton:
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the window shortcuts
        b.clicked.connect(slot)
        return b

    def _transport_bar(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.setSpacing(4)
        self.play_button = self._tool("▶", "Play / pause (Space)", self.review.toggle_play)
        self.play_button.setObjectName("playButton")
        row.addWidget(self._tool("|◀", "First frame (Home)", self.review.home))
        row.addWidget(self._tool("−1 s", "Back one second (Shift+←)", lambda: self.review.step_seconds(-1.0)))
        row.addWidget(self._tool("◀", "Previous sampled frame (←)", lambda: self.review.step_frames(-1)))
        row.addWidget(self.play_button)
        row.addWidget(self._tool("▶", "Next sampled frame (→)", lambda: self.review.step_frames(1)))
        row.addWidget(self._tool("+1 s", "Forward one second (Shift+→)", lambda: self.review.step_seconds(1.0)))
        row.addWidget(self._tool("▶|", "Last frame (End)", self.review.end))
        self.speed_box = QComboBox()
        self.speed_box.addItems([f"{s:g}×" for s in SPEEDS])
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.setToolTip("Playback speed")
        self.speed_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.speed_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.speed_box.currentIndexChanged.connect(lambda i: self.review.set_speed(SPEEDS[i]))
        row.addWidget(self.speed_box)
        self.time_label = QLabel("00:00.00 / 00:00.00")
        self.time_label.setObjectName("timeLabel")
        self.time_label.setToolTip("Playhead / session length")
        row.addWidget(self.time_label)
        row.addStretch(1)
        self.mark_label = QLabel("")
        self.mark_label.setObjectName("markLabel")
        self.mark_label.setToolTip("Segment start set with [ ; press ] at the end to create the segment")
        # Its text appears while a segment is being marked: it must never widen the window (it pushed
        # the Segments panel off a 1366- and a 1600-px screen). It takes the free space of the row only.
        self.mark_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.mark_label.setMinimumWidth(0)
        row.addWidget(self.mark_label, 1)
        self.new_label_box = QComboBox()
        self.new_label_box.addItems(self.labels)
        self.new_label_box.setToolTip("Label given to new segments (drag on the Segments strip, or [ and ])")
        self.new_label_box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.new_label_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.new_label_box.setMinimumContentsLength(7)
        new_label = QLabel("Label:")
        new_label.setToolTip(self.new_label_box.toolTip())
        row.addWidget(new_label)
        row.addWidget(self.new_label_box)
        return row

    # -- the open session lives in the model ---------------------------------------------------
    @property
    def session_id(self) -> int | None:
        return self.model.session_id

    @session_id.setter
    def session_id(self, value: int | None) -> None:
        """Open session (and with it the patient) in :attr:`model`; a new patient clears its results."""
        pid = None
        if value is not None and self.workspace is not None:
            pid = int(self.workspace.get_session(int(value)).patient_id)
        self.model.session_id = None if value is None else int(value)
        self.model.patient_id = pid

    @property
    def _live(self) -> Any:
        """The session a running analysis is filling (``controllers.analysis``)."""
        return self.analysis_ctl.live

    def analyse(self, session_id: int, resume: bool = False, confirm: bool = True) -> bool:
        """Queue a session for analysis (asks first when it already has results)."""
        return self.analysis_ctl.analyse(session_id, resume=resume, confirm=confirm)

    def _on_message(self, text: str) -> None:
        if text:
            self.statusBar().showMessage(text, 10000)
            self.model.message = ""  # the same message later fires again

    # -- segment operations (``controllers.annotation``) -----------------------------------------
    @property
    def editor(self) -> Any:
        return self.annotation_ctl.editor

    def create_segment(self, start_s: float, end_s: float, label: str | None = None) -> Any:
        return self.annotation_ctl.create(start_s, end_s, label)

    def delete_segment(self, seg_id: str) -> None:
        self.annotation_ctl.delete(seg_id)

    def delete_selected_segment(self) -> None:
        self.annotation_ctl.delete_selected()

    def select_segment(self, seg_id: str) -> None:
        self.annotation_ctl.select(seg_id)

    def mark_start(self) -> None:
        self.annotation_ctl.mark_start()

    def mark_end(self) -> None:
        self.annotation_ctl.mark_end()

    def undo(self) -> None:
        self.annotation_ctl.undo()

    def redo(self) -> None:
        self.annotation_ctl.redo()

    def export_report(self) -> Any:
        """Ctrl+P (``controllers.report``)."""
        return self.report_ctl.export_report()

    def write_report(self, out: Any, **options: Any) -> Any:
        return self.report_ctl.write_report(out, **options)

    def compute_diagnosis(self) -> Any:
        """Ctrl+D: the open patient's BD-vs-MDD prediction (see ``controllers.diagnosis``)."""
        return self.diagnosis_ctl.compute()

    def open_cohort(self) -> None:
        self.diagnosis_ctl.open_cohort()

    def show_shortcuts(self) -> None:
        from facelens.gui.dialogs import ShortcutsDialog

        ShortcutsDialog(self, self.actions()).exec()

    # -- layout (``window_layout``) ----------------------------------------------------------
    def save_layout(self) -> None:
        window_layout.save_layout(self)

    def reset_layout(self) -> None:
        window_layout.reset_layout(self)

    # -- small reactions ---------------------------------------------------------------------
    def _set_overlay(self, on: bool) -> None:
        self.review.state.show_mesh = on
        self.video.set_overlay(on)

    def _on_frame_shown(self, i: int) -> None:
        d = self.review.data
        if d is not None and 0 <= i < d.n_frames:
            self.measures.set_cursor(float(d.time_s[i]))

    def _on_playhead(self, t: float) -> None:
        self.time_label.setText(f"{fmt_time(t)} / {fmt_time(self.review.state.duration_s)}")

    def _on_playing(self, playing: bool) -> None:
        self.play_button.setText("❚❚" if playing else "▶")
