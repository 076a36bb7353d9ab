"""The FaceLens main window: workspace, sessions, background analysis and the synchronised review view.

Layout (docks can be moved; the layout is remembered): sessions on the left; video, 3D face and
circumplex along the top; the valence/arousal/segment timeline with the transport bar in the centre;
the segment table on the right. The window builds the views and wires them to small controllers
(:mod:`facelens.gui.controllers`: workspace, session, analysis queue, annotation, diagnosis, report; the
review controller in :mod:`facelens.gui.review`), each given the one evented model
(:class:`~facelens.viewmodel.app_model.AppModel`), the typed settings and the widgets it drives. The
methods below are the window's public entry points (menus, ``app.run_gui`` and the tests).
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMessageBox, QTabWidget, QVBoxLayout, QWidget

from facelens import __version__
from facelens.gui import window_layout
from facelens.gui.analysis import AnalysisQueue
from facelens.gui.circumplex import CircumplexWidget
from facelens.gui.controllers.analysis import AnalysisController
from facelens.gui.controllers.annotation import AnnotationController
from facelens.gui.controllers.diagnosis import DiagnosisController
from facelens.gui.controllers.report import ReportController
from facelens.gui.controllers.session import SessionController, SessionViews
from facelens.gui.controllers.workspace import WorkspaceController
from facelens.gui.diagnosis_panel import DiagnosisPanel
from facelens.gui.dialogs import load_labels
from facelens.gui.face_view import FaceView
from facelens.gui.measures import MeasuresWidget
from facelens.gui.menus import build_actions
from facelens.gui.review import ReviewController
from facelens.gui.segment_panel import SegmentPanel
from facelens.gui.sessions_panel import SessionsPanel
from facelens.gui.timeline import TimelineWidget
from facelens.gui.transport_bar import build_transport_bar, fmt_time
from facelens.gui.video_view import VideoView
from facelens.gui.window_layout import LAYOUT_VERSION, TOP_ROW_FRACTION_SMALL  # noqa: F401 - re-exported
from facelens.viewmodel.app_model import AppModel
from facelens.viewmodel.settings import AppSettings


def overlap_rule() -> str:
    """The label set's rule for segments of different labels overlapping ("refuse" when unreadable)."""
    try:
        from facelens.core.annotation.labels import default_label_set

        return default_label_set().overlap
    except Exception:  # noqa: BLE001 - a broken label file is reported by load_labels
        return "refuse"



class MainWindow(QMainWindow):
    """The application window. ``settings`` is injected so tests use a temporary one."""

    def __init__(self, settings: QSettings | None = None) -> None:
        super().__init__()
        self.settings = settings or QSettings()
        self.prefs = AppSettings(self.settings)
        self.model = AppModel()
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
        self.review = ReviewController(self.video, self.face, self.timeline, self.circumplex, self)
        self.banner = QLabel("")
        self.banner.setObjectName("demoBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(4, 2, 4, 2)
        cl.setSpacing(2)
        cl.addWidget(self.banner)
        cl.addLayout(build_transport_bar(self))
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
        self.default_state = self.saveState(LAYOUT_VERSION)
        self.models_label = QLabel("")
        self.models_label.setToolTip("Models that produced the open session's results")
        self.statusBar().addPermanentWidget(self.models_label)
        # A broken labels.toml: say so for as long as the window is open (a timed message is missed).
        self.labels_warning_label = QLabel(f"⚠ {self.labels_warning}" if self.labels_warning else "")
        self.labels_warning_label.setObjectName("labelsWarning")
        self.labels_warning_label.setStyleSheet("color: #B71C1C;")
        self.labels_warning_label.setToolTip("Fix the label file (see docs/gui.md) and restart FaceLens")
        self.labels_warning_label.setVisible(bool(self.labels_warning))
        self.statusBar().addWidget(self.labels_warning_label)
        self._controllers()
        window_layout.restore_layout(self)

    # -- construction --------------------------------------------------------------------------
    def _controllers(self) -> None:
        """The menus, then the controllers, each given the model, the settings and the widgets it drives
        (what one needs of another is passed as a callable), and the views' requests wired to them."""
        m, p, ws = self.model, self.prefs, lambda: self.workspace
        build_actions(self)  # the actions call the methods below, which reach the controllers
        self.diagnosis_ctl = DiagnosisController(self, m, p, self.diagnosis, ws, self.review, self.segments)
        self.queue = AnalysisQueue(self)
        self.analysis_ctl = AnalysisController(
            self, m, p, self.queue, workspace=ws, sessions_panel=self.sessions, review=self.review, video=self.video,
            open_session=self.open_session, refresh_sessions=self.refresh_sessions, results_path=self.results_path)
        self.annotation_ctl = AnnotationController(
            self, m, p, overlap_rule(), workspace=ws, review=self.review, timeline=self.timeline,
            segments=self.segments, new_label_box=self.new_label_box, mark_label=self.mark_label,
            undo_action=self.undo_action, redo_action=self.redo_action)
        self.report_ctl = ReportController(self, m, p, workspace=ws, review=self.review)
        views = SessionViews(review=self.review, measures=self.measures, video=self.video, face=self.face,
                             sessions=self.sessions, banner=self.banner, models_label=self.models_label,
                             time_label=self._on_playhead)
        self.session_ctl = SessionController(self, m, views, ws, self.annotation_ctl, self.analysis_ctl.live_data)
        self.workspace_ctl = WorkspaceController(self, m, p, self.sessions, self.recent_menu, self.session_ctl,
                                                 self.analyse, lambda t: self.review.seek(t, follow=True))
        m.events.message.connect(self._on_message)
        self.review.frame_shown.connect(self._on_frame_shown)  # the measures' cursor: once per frame shown
        self.review.state.playhead_changed.connect(self._on_playhead)
        self.review.state.playing_changed.connect(self._on_playing)
        s, a = self.sessions, self.annotation_ctl
        s.open_requested.connect(self.open_session)
        s.analyse_requested.connect(self.analyse)
        s.cancel_requested.connect(self.queue.cancel)
        t = self.timeline
        t.create_requested.connect(a.create)
        t.segment_edited.connect(lambda sid, t0, t1: a.edit(sid, start_s=t0, end_s=t1))
        t.segment_clicked.connect(a.select)
        seg = self.segments
        seg.jump_requested.connect(lambda t0: self.review.seek(t0, follow=True))
        seg.selected.connect(a.select)
        seg.edit_requested.connect(lambda sid, fields: a.edit(sid, **fields))
        seg.delete_requested.connect(a.delete)
        seg.sample_requested.connect(a.sample_clips)

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

    # -- workspace and sessions (``controllers.workspace``, ``controllers.session``) ---------------
    @property
    def workspace(self) -> Any:
        """The open ``Workspace`` (None when none is open)."""
        return self.workspace_ctl.workspace

    @property
    def session_id(self) -> int | None:
        return self.model.session_id

    @session_id.setter
    def session_id(self, value: int | None) -> None:
        self.session_ctl.set_current(value)

    def open_workspace(self, folder: Any, resume: bool = True, create: bool = True) -> bool:
        return self.workspace_ctl.open_workspace(folder, resume=resume, create=create)

    def choose_workspace(self) -> None:
        self.workspace_ctl.choose_workspace()

    def recent_workspaces(self) -> list[str]:
        return self.workspace_ctl.recent_workspaces()

    def restore_last_session(self) -> bool:
        return self.workspace_ctl.restore_last_session()

    def refresh_sessions(self) -> None:
        self.workspace_ctl.refresh_sessions()

    def import_session(self, video: Any = None) -> int | None:
        return self.workspace_ctl.import_session(video)

    def import_session_values(self, video: Any, patient: str, **details: str) -> int | None:
        return self.workspace_ctl.import_session_values(video, patient, **details)

    def open_demo(self) -> bool:
        return self.workspace_ctl.open_demo()

    def open_first_session(self) -> bool:
        return self.workspace_ctl.open_first_session()

    def results_path(self, session_id: int) -> Any:
        return self.session_ctl.results_path(session_id)

    def open_session(self, session_id: int) -> bool:
        return self.session_ctl.open(session_id)

    def close_session(self) -> None:
        self.session_ctl.close()

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

    # -- report and diagnosis (``controllers.report``, ``controllers.diagnosis``) ----------------
    def export_report(self) -> Any:
        return self.report_ctl.export_report()

    def write_report(self, out: Any, **options: Any) -> Any:
        return self.report_ctl.write_report(out, **options)

    def compute_diagnosis(self) -> Any:
        """Ctrl+D: the open patient's BD-vs-MDD prediction."""
        return self.diagnosis_ctl.compute()

    def open_cohort(self) -> None:
        self.diagnosis_ctl.open_cohort()

    # -- dialogs -----------------------------------------------------------------------------
    def show_shortcuts(self) -> None:
        from facelens.gui.dialogs import ShortcutsDialog

        ShortcutsDialog(self, self.actions()).exec()

    def preferences(self) -> None:
        from facelens.gui.dialogs import PreferencesDialog

        if PreferencesDialog(self.settings, self).exec() and self.editor is not None:
            self.editor.author = self.prefs.author

    def about(self) -> None:
        from facelens.gui.dialogs import AboutDialog

        AboutDialog(self, self.review.data.models if self.review.data is not None else None).exec()

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

    # -- drag and drop, closing ----------------------------------------------------------------
    def dragEnterEvent(self, ev: Any) -> None:
        if ev.mimeData().hasUrls():
            ev.acceptProposedAction()

    def dropEvent(self, ev: Any) -> None:
        urls = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if urls:
            self.import_session(urls[0])

    def closeEvent(self, ev: Any) -> None:
        if self.queue.is_busy() and not getattr(self, "force_quit", False):
            answer = QMessageBox.question(
                self, "Quit FaceLens", "An analysis is running. Stop it and quit?\n"
                "It will resume the next time this workspace is opened.")
            if answer != QMessageBox.StandardButton.Yes:
                ev.ignore()
                return
        self.shutdown()
        ev.accept()

    def shutdown(self) -> None:
        """Stop workers and threads, save the layout, close the workspace (idempotent)."""
        self.analysis_ctl.quitting = True
        self.workspace_ctl.remember_last_session(self.review.playhead)  # reopened where the user was
        self.queue.stop_all()
        self.review.close()
        self.save_layout()
        self.face.close_scene()
        self.workspace_ctl.close()
