"""A bare 3D face view for the GUI tests, bound to a preferences store and closed afterwards."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def face_view(qtbot: Any, settings: Any) -> Iterator[Any]:
    """``with face_view(qtbot, gui_settings) as view:`` a FaceView reading and writing ``settings``
    (as a new window would at start-up); its VisPy scene is closed on leaving."""
    from facelens.gui.face_view import FaceView
    from facelens.viewmodel.settings import AppSettings

    view = FaceView()
    qtbot.addWidget(view)
    try:
        view.bind_settings(AppSettings(settings))
        yield view
    finally:
        view.close_scene()
