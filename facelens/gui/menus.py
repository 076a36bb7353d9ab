"""The main window's menus and keyboard shortcuts, built in one place (Help → Keyboard shortcuts lists
them from the window's actions, so the list never goes stale)."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence

from facelens.gui.controllers.report import report_available


def add_action(w: Any, menu: Any, text: str, slot: Any, shortcut: Any = None, tip: str = "",
               checkable: bool = False) -> QAction:
    """One menu entry; its shortcut works even with the menu bar hidden."""
    a = QAction(text, w)
    if shortcut is not None:
        seqs = shortcut if isinstance(shortcut, list) else [shortcut]
        a.setShortcuts([QKeySequence(s) for s in seqs])
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if tip:
        a.setToolTip(tip)
        a.setStatusTip(tip)
    a.setCheckable(checkable)
    (a.toggled if checkable else a.triggered).connect(slot)
    menu.addAction(a)
    w.addAction(a)  # shortcuts work even when the menu bar is hidden
    return a


def add_mesh_actions(w: Any, v: Any) -> None:
    """View → 3D mesh: one entry per mesh and F for the next one, in step with the 3D view's "Mesh" box
    (which also disables the texture and pose-free entries while a model mesh is shown)."""
    from PySide6.QtGui import QActionGroup

    from facelens.render.model_meshes import MESH_CHOICES
    from facelens.viewmodel.settings import MESH_MODES

    box = w.face.mesh_box
    sub = v.addMenu("3D mesh")
    group = QActionGroup(w)
    w.mesh_actions = {}
    for mode in MESH_MODES:
        a = add_action(w, sub, f"3D mesh: {MESH_CHOICES[mode][0].lower()}",
                       lambda on, m=mode: on and box.set_mode(m), tip=MESH_CHOICES[mode][1], checkable=True)
        group.addAction(a)
        w.mesh_actions[mode] = a
    w.next_mesh_action = add_action(w, sub, "3D mesh: next", box.next_mode, "F",
                                    "Tracked, reconstruction, expression on the mean face, neutral reference")

    def follow() -> None:
        for mode, a in w.mesh_actions.items():
            a.setEnabled(mode in box.available())
            a.setToolTip(box.entry_tip(mode))
            a.setStatusTip(box.entry_tip(mode))
            blocked = a.blockSignals(True)
            a.setChecked(mode == box.mode)
            a.blockSignals(blocked)
        for a, widget in ((w.texture_action, w.face.texture_box), (w.posefree_action, w.face.posefree_box)):
            a.setEnabled(widget.isEnabled())
            a.setToolTip(widget.toolTip())

    w.face.mesh_state_changed.connect(follow)
    follow()


def build_actions(w: Any) -> None:
    """The menu bar of the main window ``w`` and every keyboard shortcut."""
    mb = w.menuBar()
    f = mb.addMenu("&File")
    add_action(w, f, "New or open workspace…", w.choose_workspace, QKeySequence.StandardKey.Open,
                 "Open a workspace folder, or create one in an empty folder")
    w.recent_menu = f.addMenu("Recent workspaces")
    f.addSeparator()
    add_action(w, f, "Import session…", lambda: w.import_session(), "Ctrl+I",
                 "Import a session recording into the workspace")
    add_action(w, f, "Open demo session", w.open_demo, tip="The synthetic demo session (not a patient)")
    f.addSeparator()
    add_action(w, f, "Import segments CSV…", lambda: w.annotation_ctl.import_csv(),
                 tip="Replace this session's segments")
    add_action(w, f, "Export segments CSV…", lambda: w.annotation_ctl.export_csv(), tip="start_s,end_s,label,…")
    w.report_action = add_action(w, f, "Export report…", w.export_report, "Ctrl+P",
                                      "PDF report of the open session")
    f.addSeparator()
    add_action(w, f, "Quit", w.close, QKeySequence.StandardKey.Quit)
    e = mb.addMenu("&Edit")
    w.undo_action = add_action(w, e, "Undo", w.undo, [QKeySequence.StandardKey.Undo], "Undo the last segment change")
    w.redo_action = add_action(w, e, "Redo", w.redo, ["Ctrl+Shift+Z", "Ctrl+Y"], "Redo")
    add_action(w, e, "Delete segment", w.delete_selected_segment, QKeySequence.StandardKey.Delete)
    add_action(w, e, "Segment start at playhead", w.mark_start, "[", "Start a segment at the playhead")
    add_action(w, e, "Segment end at playhead", w.mark_end, "]", "End the segment at the playhead")
    add_action(w, e, "Next segment", lambda: w.annotation_ctl.step_segment(1), "N",
                 "Select the next segment and go to its start")
    add_action(w, e, "Previous segment", lambda: w.annotation_ctl.step_segment(-1), "Shift+N",
                 "Select the previous segment and go to its start")
    for i, name in enumerate(w.labels[:9], start=1):  # one hotkey per label: 1, 2, 3, …
        add_action(w, e, f"Label for new segments: {name}", lambda _=False, n=name: w.annotation_ctl.use_label(n),
                     str(i), f"New segments get the label '{name}'; with a segment selected, relabel it")
    e.addSeparator()
    add_action(w, e, "Preferences…", w.preferences, QKeySequence.StandardKey.Preferences)
    p = mb.addMenu("&Playback")
    add_action(w, p, "Play / pause", w.review.toggle_play, "Space")
    add_action(w, p, "Previous frame", lambda: w.review.step_frames(-1), "Left")
    add_action(w, p, "Next frame", lambda: w.review.step_frames(1), "Right")
    add_action(w, p, "Back one second", lambda: w.review.step_seconds(-1.0), "Shift+Left")
    add_action(w, p, "Forward one second", lambda: w.review.step_seconds(1.0), "Shift+Right")
    add_action(w, p, "First frame", w.review.home, "Home")
    add_action(w, p, "Last frame", w.review.end, "End")
    v = mb.addMenu("&View")
    w.overlay_action = add_action(w, v, "Mesh overlay on video", w._set_overlay, "M",
                                       "Draw the tracked mesh on the video frame", checkable=True)
    w.posefree_action = add_action(w, v, "3D: expression only (pose-free)",
                                        lambda on: w.face.posefree_box.setChecked(on), "P", checkable=True)
    w.face.posefree_box.toggled.connect(w.posefree_action.setChecked)
    w.texture_action = add_action(w, v, "3D: video texture", lambda on: w.face.texture_box.setChecked(on), "T",
                                  "Paint the video frame onto the 3D face (never in reports)", checkable=True)
    w.texture_action.setChecked(w.face.texture_box.isChecked())
    w.face.texture_box.toggled.connect(w.texture_action.setChecked)
    add_action(w, v, "3D: reset view", w.face.reset_view, "R")
    add_mesh_actions(w, v)
    v.addSeparator()
    for dock in w.docks.values():
        v.addAction(dock.toggleViewAction())
    v.addSeparator()
    add_action(w, v, "Reset layout", w.reset_layout)
    d = mb.addMenu("&Diagnosis")
    add_action(w, d, "Compute BD-vs-MDD support", w.compute_diagnosis, "Ctrl+D",
                 "Run the BD-vs-MDD model on this patient's analysed sessions (research use)")
    add_action(w, d, "Cohort…", w.open_cohort, tip="Train a model from a cohort manifest or choose the model")
    h = mb.addMenu("&Help")
    add_action(w, h, "Keyboard shortcuts", w.show_shortcuts, "F1", "All keys and mouse gestures")
    add_action(w, h, "About FaceLens", w.about, tip="Version and the cards of the models in use")
    w.overlay_action.setChecked(True)
    w.undo_action.setEnabled(False)
    w.redo_action.setEnabled(False)
    if not report_available():
        w.report_action.setEnabled(False)
        w.report_action.setToolTip("available once the report module is installed")
        w.report_action.setStatusTip("available once the report module is installed")
