"""Segment annotation with undo/redo, clip sampling and per-segment statistics (Qt-free).

Public API
----------
``SegmentEditor(workspace, session_id, author="", *, duration_s=None, labels=None)``
    Edits one session's segments. Every command is written to the workspace at once (one SQLite
    transaction each) and pushed on an undo stack:
    ``add(start_s, end_s, label, scenario="", note="")``, ``add_segment(seg)``,
    ``update(segment_id, *, start_s=, end_s=, label=, scenario=, note=, merge=False)``,
    ``move(segment_id, start_s, end_s, merge=False)``, ``delete(segment_id)``,
    ``replace_all(segments)``, ``import_csv(path)`` (replaces; undoable), ``export_csv(path)``;
    ``undo()``, ``redo()``, ``can_undo``, ``can_redo``, ``undo_text``, ``redo_text``, ``segments``.
    ``merge=True`` folds consecutive edits of the same segment into one undo step (an edge drag):
    an edit merges into the previous one if that was also a ``merge`` edit of the same segment, less
    than ``merge_window_s`` (1 s) ago, with no undo/redo or ``seal()`` since.
    Signals (psygnal): ``changed()`` after any change incl. undo/redo;
    ``undo_state_changed(can_undo: bool, can_redo: bool)``.
``sample_clips(segments, label=None, clip_s=15.0, fps=10.0) -> list[Segment]``
    The seed paper's protocol (AsmV2L 2026: 15-s clips at 10 fps): each segment of ``label`` is cut
    into consecutive clips of ``round(clip_s * fps)`` frames from its start. A remainder shorter than
    one clip is DROPPED (the temporal model takes fixed-length clips), so a 40-s segment gives two
    clips (0–15 s, 15–30 s) and a 10-s segment none. Clip ids are ``<segment id>-cNN``.
``segment_stats(segment, results) -> SegmentStats``
    Mean ± SD (sample SD, ddof=1) of frame-level valence and arousal over usable frames with
    ``start_s <= time_s < end_s``, and the numbers of valid and all frames (results: any object with
    ``time_s``, ``valence``, ``arousal``, ``usable`` arrays, e.g. ``SessionResults``).
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from psygnal import Signal

from facelens.core.annotation.segments import Segment, SegmentError, read_segments_csv, write_segments_csv
from facelens.core.workspace import Workspace


@dataclass
class _Command:
    """One undoable edit: the segments before and after (None = absent), keyed by id."""

    text: str
    kind: str  # "add" | "update" | "delete" | "replace"
    before: Any
    after: Any
    created: str | None = None  # original creation time of a deleted segment
    mergeable: bool = False
    last_edit: float = 0.0  # time.monotonic() of the last edit folded into this command


class SegmentEditor:
    """Undoable editing of one session's segments, persisted immediately in the workspace."""

    changed = Signal()
    undo_state_changed = Signal(bool, bool)

    def __init__(self, workspace: Workspace, session_id: int, author: str = "", *,
                 duration_s: float | None = None, labels: Sequence[str] | None = None,
                 max_undo: int = 1000, merge_window_s: float = 1.0) -> None:
        self.workspace = workspace
        self.session_id = int(session_id)
        self.author = author
        self.duration_s = duration_s
        self.labels = tuple(labels) if labels is not None else None
        self.max_undo = max_undo
        self.merge_window_s = merge_window_s
        self._undo: list[_Command] = []
        self._redo: list[_Command] = []
        workspace.get_session(self.session_id)  # fail early on an unknown session

    # ------------------------------------------------------------------ state
    @property
    def segments(self) -> list[Segment]:
        """Current segments (read from the workspace, sorted by start)."""
        return self.workspace.segments(self.session_id)

    def get(self, segment_id: str) -> Segment:
        rec = self.workspace.segment_record(segment_id)
        if rec is None or rec.session_id != self.session_id:
            raise SegmentError(f"no segment {segment_id} in session {self.session_id}")
        return rec.segment

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_text(self) -> str:
        return self._undo[-1].text if self._undo else ""

    @property
    def redo_text(self) -> str:
        return self._redo[-1].text if self._redo else ""

    def seal(self) -> None:
        """End the current merge sequence (e.g. on mouse release): the next edit is its own step."""
        if self._undo:
            self._undo[-1].mergeable = False

    def clear_history(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self.undo_state_changed.emit(False, False)

    # ------------------------------------------------------------------ commands
    def add(self, start_s: float, end_s: float, label: str, scenario: str = "", note: str = "") -> Segment:
        """Add a segment authored by this editor's author."""
        seg = Segment(float(start_s), float(end_s), label, scenario, note, self.author)
        return self.add_segment(seg)

    def add_segment(self, segment: Segment) -> Segment:
        self._validate(segment)
        self._push(_Command(f"add {segment.label} segment", "add", None, segment))
        return segment

    def update(self, segment_id: str, *, start_s: float | None = None, end_s: float | None = None,
               label: str | None = None, scenario: str | None = None, note: str | None = None,
               merge: bool = False) -> Segment:
        """Change fields of a segment; ``merge`` folds into the previous edit of the same segment."""
        old = self.get(segment_id)
        changes: dict[str, Any] = {k: v for k, v in (("start_s", start_s), ("end_s", end_s), ("label", label),
                                     ("scenario", scenario), ("note", note)) if v is not None}
        if "start_s" in changes or "end_s" in changes:
            text = "move segment"
        else:
            text = "edit segment " + ", ".join(changes) if changes else "edit segment"
        new = replace(old, **changes)  # replace() runs __post_init__: re-validates start < end, label
        self._validate(new)
        if new == old:
            return old
        top = self._undo[-1] if self._undo else None
        now = time.monotonic()
        if (merge and top is not None and top.mergeable and top.kind == "update" and top.after.id == new.id
                and now - top.last_edit <= self.merge_window_s):
            self.workspace.update_segment(new)
            top.after, top.last_edit = new, now
            self._redo.clear()
            self._emit()
            return new
        self._push(_Command(text, "update", old, new, mergeable=merge, last_edit=now))
        return new

    def move(self, segment_id: str, start_s: float, end_s: float, merge: bool = False) -> Segment:
        return self.update(segment_id, start_s=float(start_s), end_s=float(end_s), merge=merge)

    def delete(self, segment_id: str) -> Segment:
        rec = self.workspace.segment_record(segment_id)
        if rec is None or rec.session_id != self.session_id:
            raise SegmentError(f"no segment {segment_id} in session {self.session_id}")
        self._push(_Command(f"delete {rec.segment.label} segment", "delete", rec.segment, None,
                            created=rec.created))
        return rec.segment

    def replace_all(self, segments: Iterable[Segment], text: str = "replace segments") -> list[Segment]:
        new = list(segments)
        for s in new:
            self._validate(s)
        self._push(_Command(text, "replace", self.segments, new))
        return self.segments

    def import_csv(self, path: str | Path) -> list[Segment]:
        """Replace the session's segments with a CSV's (undoable). Raises ``SegmentError``."""
        segs = read_segments_csv(path)
        return self.replace_all(segs, text=f"import {Path(path).name}")

    def export_csv(self, path: str | Path) -> Path:
        """Write the session's segments as CSV (atomically)."""
        return write_segments_csv(self.segments, path)

    # ------------------------------------------------------------------ undo / redo
    def undo(self) -> bool:
        """Undo the last command; False when there is none."""
        if not self._undo:
            return False
        cmd = self._undo[-1]
        self._apply(cmd, reverse=True)  # a failure leaves both stacks as they were
        cmd.mergeable = False  # a redone command is never extended by a later drag
        self._redo.append(self._undo.pop())
        self._emit()
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        cmd = self._redo[-1]
        self._apply(cmd, reverse=False)
        self._undo.append(self._redo.pop())
        self._emit()
        return True

    def _push(self, cmd: _Command) -> None:
        self._apply(cmd, reverse=False)
        self._undo.append(cmd)
        del self._undo[: max(0, len(self._undo) - self.max_undo)]
        self._redo.clear()
        self._emit()

    def _apply(self, cmd: _Command, reverse: bool) -> None:
        ws, sid = self.workspace, self.session_id
        src, dst = (cmd.after, cmd.before) if reverse else (cmd.before, cmd.after)
        if cmd.kind == "replace":
            ws.replace_segments(sid, dst)
        elif src is None:  # segment appears
            ws.add_segment(sid, dst, created=cmd.created)
        elif dst is None:  # segment disappears
            ws.delete_segment(src.id)
        else:
            ws.update_segment(dst)

    def _emit(self) -> None:
        self.changed.emit()
        self.undo_state_changed.emit(self.can_undo, self.can_redo)

    def _validate(self, s: Segment) -> None:
        if self.labels is not None and s.label not in self.labels:
            raise SegmentError(f"label {s.label!r} is not one of: {', '.join(self.labels)}")
        if self.duration_s is not None and s.end_s > self.duration_s + 1e-6:
            raise SegmentError(f"segment ends at {s.end_s:.2f} s, after the session ({self.duration_s:.2f} s)")


def sample_clips(segments: Iterable[Segment], label: str | None = None, clip_s: float = 15.0,
                 fps: float = 10.0) -> list[Segment]:
    """Cut segments into fixed-length clips (see the module docstring: remainders are dropped).

    Parameters
    ----------
    segments : iterable of Segment
    label : str, optional
        Only segments with this label (all when None).
    clip_s, fps : float
        Clip length and sampling rate; the clip holds ``round(clip_s * fps)`` frames.

    Returns
    -------
    list of Segment
        Clips sorted by start time, with label, scenario and author of their segment.
    """
    if fps <= 0 or clip_s <= 0:
        raise ValueError("clip_s and fps must be positive")
    n_frames = round(clip_s * fps)
    if n_frames < 1:
        raise ValueError(f"a {clip_s}-s clip at {fps} fps holds no frame")
    length = n_frames / fps
    out: list[Segment] = []
    for s in segments:
        if label is not None and s.label != label:
            continue
        n = math.floor(s.duration_s / length + 1e-9)  # tolerance: 30.0/15.0 must give 2, not 1
        for i in range(n):
            start = s.start_s + i * length
            out.append(replace(s, start_s=start, end_s=start + length, note=f"clip {i + 1}/{n} of {s.id}",
                               id=f"{s.id}-c{i + 1:02d}"))
    return sorted(out, key=lambda c: (c.start_s, c.id))


class SegmentStats(NamedTuple):
    """Frame-level valence/arousal summary of one segment (NaN where not computable)."""

    valence_mean: float
    valence_sd: float
    arousal_mean: float
    arousal_sd: float
    n_valid: int  # usable frames with finite valence and arousal
    n_frames: int  # sampled frames inside the segment

    def describe(self) -> str:
        """E.g. ``"V 0.41 ± 0.09, A 0.42 ± 0.09 (n = 150/150)"``."""
        return (f"V {self.valence_mean:.2f} ± {self.valence_sd:.2f}, "
                f"A {self.arousal_mean:.2f} ± {self.arousal_sd:.2f} (n = {self.n_valid}/{self.n_frames})")


def segment_stats(segment: Segment, results: Any) -> SegmentStats:
    """Mean ± SD of valence and arousal over the segment's usable frames (see module docstring)."""
    t = np.asarray(results.time_s, dtype=float)
    inside = (t >= segment.start_s) & (t < segment.end_s)
    v = np.asarray(results.valence, dtype=float)[inside]
    a = np.asarray(results.arousal, dtype=float)[inside]
    ok = np.asarray(results.usable, dtype=bool)[inside] & np.isfinite(v) & np.isfinite(a)
    v, a = v[ok], a[ok]
    n = int(ok.sum())

    def mean_sd(x: np.ndarray) -> tuple[float, float]:
        if n == 0:
            return float("nan"), float("nan")
        sd = float(x.std(ddof=1)) if n >= 2 else float("nan")
        return float(x.mean()), sd

    vm, vs = mean_sd(v)
    am, asd = mean_sd(a)
    return SegmentStats(vm, vs, am, asd, n, int(inside.sum()))
