"""The 3D view's "Mesh" box: the tracked mesh or one of the morphable model's (``render.model_meshes``).

The choice is kept in the preferences (``AppSettings.face_mesh``). A session without the morphable fit
(an older results file, an analysis still running) disables the model's entries, each with the reason as
its tool tip, and the view shows the tracked mesh; the choice stays for the next session that has one.
The model file is read once, in a thread, the first time a session with a fit opens.
"""
from __future__ import annotations

import threading
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QWidget

from facelens.render.model_meshes import MESH_CHOICES, MeshChoice
from facelens.viewmodel.settings import MESH_MODES


class MeshBox(QComboBox):
    """One entry per ``MESH_MODES``; :attr:`changed` fires when the mesh shown or the entries available change."""

    changed = Signal()
    _model_ready = Signal(object, str)  # from the loading thread: the model, or why it failed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        for mode in MESH_MODES:
            self.addItem(MESH_CHOICES[mode][0], mode)
        self.choice = MeshChoice()
        self._prefs: Any = None
        self._loading = False
        self._model_ready.connect(self._on_model)
        self.currentIndexChanged.connect(lambda k: self.set_mode(MESH_MODES[k]))
        self.sync()

    @property
    def mode(self) -> str:
        """The mesh shown: the choice, or "tracked" while this session has no model meshes."""
        return self.choice.mode

    def available(self) -> list[str]:
        return self.choice.available(MESH_MODES)

    def open_session(self, data: Any) -> None:
        """Another session (``gui.session_data.SessionData`` or ``None``): its own coefficients only."""
        if self.choice.open(data):
            self._load_model()
        self.sync()

    def set_mode(self, mode: str) -> bool:
        """Show ``mode`` and keep it as the choice; False (nothing changes) when it is not available."""
        if mode not in self.available():
            self.sync()  # a disabled entry: the box and the menu go back to what is shown
            return False
        if mode != self.choice.wanted:
            self.choice.wanted = mode
            if self._prefs is not None:
                self._prefs.face_mesh = mode
        self.sync()
        return True

    def next_mode(self) -> None:
        """The next available mesh, in the box's order (the shortcut)."""
        modes = self.available()
        self.set_mode(modes[(modes.index(self.mode) + 1) % len(modes)])

    def bind_settings(self, prefs: Any) -> None:
        self._prefs = prefs
        self.choice.wanted = str(prefs.face_mesh)
        self.sync()

    def entry_tip(self, mode: str) -> str:
        """An entry's tool tip: what it shows, or why it is disabled."""
        return MESH_CHOICES[mode][1] if mode in self.available() else self.choice.why

    def sync(self) -> None:
        """Entries enabled and tipped for this session, the mesh shown selected; then :attr:`changed`."""
        items = self.model()
        for k, m in enumerate(MESH_MODES):
            items.item(k).setEnabled(m in self.available())
            items.item(k).setToolTip(self.entry_tip(m))
        blocked = self.blockSignals(True)
        self.setCurrentIndex(MESH_MODES.index(self.mode))
        self.blockSignals(blocked)
        why = self.choice.why
        self.setToolTip(MESH_CHOICES[self.mode][1] if self.choice.usable else f"Model meshes: {why}")
        self.changed.emit()

    def _load_model(self) -> None:
        if self._loading:
            return
        self._loading = True

        def load() -> None:
            from facelens.core.face.morphable.model import MorphableError, load_default

            try:
                model, err = load_default(), ""
            except (MorphableError, OSError, ValueError) as exc:
                model, err = None, str(exc)
            try:
                self._model_ready.emit(model, err)  # queued to the GUI thread
            except RuntimeError:  # the box was deleted meanwhile
                pass

        threading.Thread(target=load, name="morphable-model", daemon=True).start()

    def _on_model(self, model: Any, err: str) -> None:
        self._loading = False
        self.choice.model_loaded(model, err)
        self.sync()
