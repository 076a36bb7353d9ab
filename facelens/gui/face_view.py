"""The 3D face viewport: a VisPy canvas (from :mod:`facelens.render`) with a small tool row.

Orbit with the left mouse button, zoom with the wheel; "Reset view" returns to the upright front view.
"Expression only" shows the pose-free mesh (the head's rotation and position removed).
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from facelens.render.face_mesh import FaceScene


class FaceView(QWidget):
    """Shows one mesh at a time; :meth:`set_vertices` is called for every playback update."""

    posefree_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene = FaceScene(size=(400, 400))
        native = self.scene.canvas.native
        native.setMinimumSize(160, 160)
        native.setToolTip("3D face: drag to orbit, wheel to zoom")
        self.reset_button = QPushButton("Reset view")
        self.reset_button.setToolTip("Upright front view")
        self.reset_button.clicked.connect(self.reset_view)
        self.posefree_box = QCheckBox("Expression only")
        self.posefree_box.setToolTip("Remove head rotation and position: show the pose-free expression")
        self.posefree_box.toggled.connect(self.posefree_toggled)
        self.status = QLabel("")
        self.status.setObjectName("faceStatus")
        tools = QHBoxLayout()
        tools.setContentsMargins(4, 2, 4, 2)
        tools.addWidget(self.reset_button)
        tools.addWidget(self.posefree_box)
        tools.addStretch(1)
        tools.addWidget(self.status)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(native, 1)
        lay.addLayout(tools)

    def set_vertices(self, vertices: np.ndarray | None, reason: str = "") -> None:
        """Show a mesh (view space) or, with ``None``, hide it and say why."""
        self.scene.set_face(vertices)
        self.status.setText("" if vertices is not None else (f"no usable face: {reason}" if reason else ""))

    def reset_view(self) -> None:
        self.scene.reset_view()
        self.scene.canvas.update()

    def close_scene(self) -> None:
        self.scene.close()
