"""The annotation controller: segment edits through the undoable ``SegmentEditor`` and its rules.

Every change is saved to the workspace at once by the editor. Before a change is made the label set's
overlap rule is applied (:mod:`facelens.viewmodel.annotation_rules`): under "refuse" a segment that
would overlap a segment of another label is not made (the strip snaps back and the status bar says
why); under "flag" it is made and marked ⚠ in the table. Typed start/end times and ``[`` / ``]``
land on sampled frames. The annotator is asked for once (then remembered) before the first edit.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from facelens.core.annotation.segments import SegmentError
from facelens.viewmodel.annotation_rules import check_overlap, conflicting_ids, snap_to_frame
from facelens.viewmodel.app_model import AppModel
from facelens.viewmodel.settings import AppSettings


class AnnotationController(QObject):
    """Segment operations of the open session.

    Parameters
    ----------
    parent : QWidget
        Parent of dialogs (annotator, CSV files).
    model, prefs
        The application model (messages, segment changes) and settings (annotator).
    overlap_rule : str
        The label set's rule ("refuse", "flag", "allow").
    workspace : callable
        Returns the open ``Workspace``.
    review : ReviewController
        The playhead, the selected segment (``review.state``) and the open session's data.
    timeline, segments : TimelineWidget, SegmentPanel
        The views it redraws (strip and table).
    new_label_box, mark_label, undo_action, redo_action
        The transport bar's label for new segments and its "start at …" hint; Edit ▸ Undo / Redo.
    """

    def __init__(self, parent: QWidget, model: AppModel, prefs: AppSettings, overlap_rule: str = "refuse", *,
                 workspace: Callable[[], Any], review: Any, timeline: Any, segments: Any, new_label_box: Any,
                 mark_label: Any, undo_action: Any, redo_action: Any) -> None:
        super().__init__(parent)
        self.parent_widget, self.model, self.prefs, self.overlap_rule = parent, model, prefs, overlap_rule
        self._ws, self.review, self.timeline, self.segments = workspace, review, timeline, segments
        self.new_label_box, self.mark_label = new_label_box, mark_label
        self.undo_action, self.redo_action = undo_action, redo_action
        self.editor: Any = None
        self.mark: float | None = None
        self._hold = False  # True while a new segment is made: the views are redrawn once, with it selected
        self.ask_author = False  # run_gui switches it on: tests and screenshot runs never block on it

    # -- editor --------------------------------------------------------------------------------
    def open(self, session_id: int, duration_s: float | None) -> None:
        from facelens.core.workspace.segment_editor import SegmentEditor

        self.editor = SegmentEditor(self._ws(), session_id, self.prefs.author,
                                    duration_s=duration_s or None)
        self.editor.changed.connect(self.refresh)
        self.editor.changed.connect(self.model.segments_changed)  # results computed from segments go stale
        self.editor.undo_state_changed.connect(self._on_undo_state)
        self._on_undo_state(False, False)
        self.refresh()

    def close(self) -> None:
        self.editor = None
        self.mark = None
        self.mark_label.setText("")
        self.timeline.set_segments([])
        z = np.zeros(0)
        self.segments.set_segments([], z, z, z, z.astype(bool))

    def refresh(self) -> None:
        """Redraw the strip and the table from the editor's segments (once per change)."""
        if self.editor is None or self._hold:
            return
        segs = self.editor.segments
        sel = self.review.state.selected_segment
        flags = conflicting_ids(segs) if self.overlap_rule == "flag" else set()  # the ⚠ mark of the "flag" rule
        self.timeline.set_segments(segs, sel)
        d = self.review.data
        z = np.zeros(0)
        if d is None:
            self.segments.set_segments(segs, z, z, z, z.astype(bool), sel, flagged=flags)
        else:
            self.segments.set_segments(segs, d.time_s, d.valence, d.arousal, d.usable, sel, flagged=flags)

    def _guard(self, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
        try:
            return fn(*args, **kw)
        except (SegmentError, ValueError) as exc:
            self.model.message = f"{what}: {exc}"
            return None

    def ensure_author(self) -> None:
        """Ask once who is annotating (stored in the preferences and with every edit)."""
        if self.prefs.author or not self.ask_author:
            return
        name, ok = QInputDialog.getText(self.parent_widget, "Who is annotating?",
                                        "Your initials or annotator code (stored with every segment you edit):")
        if ok and name.strip():
            self.prefs.author = name
            if self.editor is not None:
                self.editor.author = self.prefs.author
        self.ask_author = False  # asked once per run, even when left empty

    def _refused(self, segs: list[Any], start: float, end: float, label: str, exclude: str | None) -> bool:
        why = check_overlap(self.overlap_rule, segs, start, end, label, exclude)
        if why:
            self.model.message = f"Not changed: {why}"
            self.refresh()  # a dragged region snaps back
        return bool(why)

    # -- segments ------------------------------------------------------------------------------
    def create(self, start_s: float, end_s: float, label: str | None = None) -> Any:
        if self.editor is None:
            self.model.message = "Open a session first"
            return None
        lab = label or self.new_label_box.currentText()
        if self._refused(self.editor.segments, start_s, end_s, lab, None):
            return None
        self.ensure_author()
        self._hold = True  # the editor's change and the selection of the new segment: one redraw
        try:
            seg = self._guard("New segment", self.editor.add, start_s, end_s, lab)
        finally:
            self._hold = False
        if seg is not None:
            self.select(seg.id)
            self.model.message = f"New segment: {seg.label}, {seg.start_s:.1f}–{seg.end_s:.1f} s (Ctrl+Z undoes it)"
        return seg

    def edit(self, seg_id: str, **fields: Any) -> None:
        if self.editor is None:
            return
        cur = next((s for s in self.editor.segments if s.id == seg_id), None)
        if cur is None:
            return
        d = self.review.data
        for key in ("start_s", "end_s"):  # typed times land on sampled frames
            if fields.get("typed") and key in fields and d is not None and d.n_frames:
                fields[key] = snap_to_frame(float(fields[key]), d.time_s)
        fields.pop("typed", None)
        start, end = fields.get("start_s", cur.start_s), fields.get("end_s", cur.end_s)
        if self._refused(self.editor.segments, start, end, fields.get("label", cur.label), seg_id):
            return
        self.ensure_author()
        merge = "start_s" in fields or "end_s" in fields
        self._guard("Edit segment", self.editor.update, seg_id, merge=merge, **fields)

    def delete(self, seg_id: str) -> None:
        if self.editor is not None and seg_id:
            self._guard("Delete segment", self.editor.delete, seg_id)
            self.review.state.selected_segment = None

    def delete_selected(self) -> None:
        sid = self.review.state.selected_segment
        if sid:
            self.delete(sid)

    def select(self, seg_id: str) -> None:
        self.review.state.selected_segment = seg_id or None
        self.segments.select(seg_id)
        self.refresh()

    def use_label(self, name: str) -> None:
        """Label hotkey: new segments get ``name``; a selected segment is relabelled (undoable)."""
        self.new_label_box.setCurrentText(name)
        sel = self.review.state.selected_segment
        if sel and self.editor is not None:
            self.edit(sel, label=name)
        self.model.message = f"Label for new segments: {name}" + (" (selected segment relabelled)" if sel else "")

    def step_segment(self, direction: int) -> None:
        """Select the next (+1) or previous (−1) segment in time and move the playhead to its start."""
        if self.editor is None or not self.editor.segments:
            return
        segs = sorted(self.editor.segments, key=lambda s: (s.start_s, s.end_s))
        t = self.review.playhead
        if direction > 0:
            target = next((s for s in segs if s.start_s > t + 1e-6), segs[-1])
        else:
            target = next((s for s in reversed(segs) if s.start_s < t - 1e-6), segs[0])
        self.select(target.id)
        self.review.seek(target.start_s, follow=True)

    def _frame_time(self) -> float:
        d = self.review.data
        t = self.review.playhead
        return snap_to_frame(t, d.time_s) if d is not None and d.n_frames else t

    def mark_start(self) -> None:
        self.mark = self._frame_time()
        self.mark_label.setText(f"start at {self.mark:.1f} s — press ] at the end")

    def mark_end(self) -> None:
        if self.mark is None:
            self.model.message = "Press [ at the start of the segment first"
            return
        a, b = sorted((self.mark, self._frame_time()))
        self.mark = None
        self.mark_label.setText("")
        self.create(a, b)

    def undo(self) -> None:
        if self.editor is not None:
            self.editor.undo()

    def redo(self) -> None:
        if self.editor is not None:
            self.editor.redo()

    def _on_undo_state(self, can_undo: bool, can_redo: bool) -> None:
        self.undo_action.setEnabled(can_undo)
        self.redo_action.setEnabled(can_redo)
        if self.editor is not None:
            self.undo_action.setText(f"Undo {self.editor.undo_text}" if can_undo else "Undo")
            self.redo_action.setText(f"Redo {self.editor.redo_text}" if can_redo else "Redo")

    def sample_clips(self, label: str) -> None:
        """Replace the session's segments of ``label`` by 15-s clips (undoable), per the paper's protocol."""
        from facelens.core.workspace.segment_editor import sample_clips

        if self.editor is None:
            return
        segs = self.editor.segments
        target = label or None
        from facelens.core.annotation import exclusions

        clips = sample_clips(exclusions.labelled(segs), label=target)
        if not clips:
            self.model.message = f"No {label or ''} segment is 15 s or longer: no clips made"
            return
        # the reviewer's exclusions stay whatever is sampled (they are no label)
        kept = [s for s in segs if (target is not None and s.label != target) or exclusions.is_exclusion(s)]
        self._guard("Sample clips", self.editor.replace_all, kept + clips, f"sample 15-s clips ({label or 'all'})")
        self.model.message = f"{len(clips)} clips of 15 s made (shorter remainders dropped); Ctrl+Z restores them"

    def import_csv(self) -> None:
        if self.editor is None:
            return
        path, _ = QFileDialog.getOpenFileName(self.parent_widget, "Import segments", "", "CSV (*.csv)")
        if path:
            self._guard("Import segments", self.editor.import_csv, path)

    def export_csv(self) -> None:
        if self.editor is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.parent_widget, "Export segments", "segments.csv", "CSV (*.csv)")
        if path:
            self._guard("Export segments", self.editor.export_csv, path)
