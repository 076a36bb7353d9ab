"""The transport bar above the timeline: first/previous/play/next/last, one-second steps, speed, the
playhead time, the segment-start hint and the label given to new segments."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton

from facelens.gui.review import SPEEDS


def fmt_time(t: float) -> str:
    m, s = divmod(max(0.0, t), 60.0)
    return f"{int(m):02d}:{s:05.2f}"


def _tool(text: str, tip: str, slot: Any) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the window shortcuts
    b.clicked.connect(slot)
    return b


def build_transport_bar(win: Any) -> QHBoxLayout:
    """The row of controls; sets ``play_button``, ``speed_box``, ``time_label``, ``mark_label`` and
    ``new_label_box`` on ``win`` (its ``review`` controller and ``labels`` must exist)."""
    review = win.review
    row = QHBoxLayout()
    row.setSpacing(4)
    win.play_button = _tool("▶", "Play / pause (Space)", review.toggle_play)
    win.play_button.setObjectName("playButton")
    row.addWidget(_tool("|◀", "First frame (Home)", review.home))
    row.addWidget(_tool("−1 s", "Back one second (Shift+←)", lambda: review.step_seconds(-1.0)))
    row.addWidget(_tool("◀", "Previous sampled frame (←)", lambda: review.step_frames(-1)))
    row.addWidget(win.play_button)
    row.addWidget(_tool("▶", "Next sampled frame (→)", lambda: review.step_frames(1)))
    row.addWidget(_tool("+1 s", "Forward one second (Shift+→)", lambda: review.step_seconds(1.0)))
    row.addWidget(_tool("▶|", "Last frame (End)", review.end))
    win.speed_box = box = QComboBox()
    box.addItems([f"{s:g}×" for s in SPEEDS])
    box.setCurrentIndex(SPEEDS.index(1.0))
    box.setToolTip("Playback speed")
    box.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
    box.currentIndexChanged.connect(lambda i: review.set_speed(SPEEDS[i]))
    row.addWidget(box)
    win.time_label = QLabel("00:00.00 / 00:00.00")
    win.time_label.setObjectName("timeLabel")
    win.time_label.setToolTip("Playhead / session length")
    row.addWidget(win.time_label)
    row.addStretch(1)
    win.mark_label = mark = QLabel("")
    mark.setObjectName("markLabel")
    mark.setToolTip("Segment start set with [ ; press ] at the end to create the segment")
    # Its text appears while a segment is being marked: it must never widen the window (it pushed
    # the Segments panel off a 1366- and a 1600-px screen). It takes the free space of the row only.
    mark.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    mark.setMinimumWidth(0)
    row.addWidget(mark, 1)
    win.new_label_box = labels = QComboBox()
    labels.addItems(win.labels)
    labels.setToolTip("Label given to new segments (drag on the Segments strip, or [ and ])")
    labels.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    labels.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    labels.setMinimumContentsLength(7)
    new_label = QLabel("Label:")
    new_label.setToolTip(labels.toolTip())
    row.addWidget(new_label)
    row.addWidget(labels)
    return row
