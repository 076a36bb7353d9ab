"""The main window's size and dock layout: defaults that fit the screen (1366×768 included), the saved
layout (dropped when ``LAYOUT_VERSION`` changed) and *Reset layout*."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QByteArray, Qt

#: Bumped whenever the default dock arrangement changes: a layout saved by an older version (for example
#: Segments and Diagnosis side by side, which left the table one row high at 1366×768) is then dropped.
LAYOUT_VERSION = 4  # 4: circumplex and measures (emotions, expressions, pose, quality) in one dock
# Default height of the top row (video, 3D face, circumplex) as a fraction of the window height. On
# small screens (1366×768) 44 % left the segment table about four rows; 38 % gives the timeline and the
# table the room they need while the video and the face stay recognisable.
TOP_ROW_FRACTION = 0.44
TOP_ROW_FRACTION_SMALL = 0.38
SMALL_HEIGHT = 900  # window heights up to this use the small-screen fraction
TITLE_BAR_PX = 32  # assumed window-manager title bar before the window is mapped


def restore_layout(win: Any) -> None:
    """The saved geometry and dock layout, or the default one sized for the screen."""
    geo = win.prefs.window_geometry
    state = win.prefs.window_state
    if isinstance(geo, QByteArray) and not geo.isEmpty():
        win.restoreGeometry(geo)
    else:
        win.resize(1400, 900)
    fit_to_screen(win)
    saved = isinstance(state, QByteArray) and not state.isEmpty()
    if not (saved and win.restoreState(state, LAYOUT_VERSION)):
        # First start (or an older layout): sizes follow the window once it is laid out.
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: default_sizes(win))


def fit_to_screen(win: Any) -> None:
    """Keep the window on its screen: no larger than the available area (1366×768 laptops), and
    moved back when a saved position lies off it."""
    screen = win.screen()
    if screen is None:
        return
    avail = screen.availableGeometry()
    frame_h = max(0, win.frameGeometry().height() - win.geometry().height()) or TITLE_BAR_PX
    width = min(win.width(), avail.width())
    height = min(win.height(), avail.height() - frame_h)
    if (width, height) != (win.width(), win.height()):
        win.resize(width, height)
    if not avail.contains(win.frameGeometry().topLeft()):
        win.move(avail.topLeft())


def default_sizes(win: Any) -> None:
    """Top row, Sessions and Segments sized as fractions of the window (small screens: a lower top row)."""
    height, width = win.height(), win.width()
    frac = TOP_ROW_FRACTION_SMALL if height <= SMALL_HEIGHT else TOP_ROW_FRACTION
    win.resizeDocks([win.docks["video"]], [int(height * frac)], Qt.Orientation.Vertical)
    win.resizeDocks([win.docks["sessions"], win.docks["segments"]], [int(width * 0.15), int(width * 0.30)],
                    Qt.Orientation.Horizontal)


def save_layout(win: Any) -> None:
    """Remember geometry and dock layout (with ``LAYOUT_VERSION``)."""
    win.prefs.window_geometry = win.saveGeometry()
    win.prefs.window_state = win.saveState(LAYOUT_VERSION)
    win.prefs.sync()


def reset_layout(win: Any) -> None:
    """Back to the default dock arrangement and sizes."""
    win.restoreState(win.default_state, LAYOUT_VERSION)
    for dock in win.docks.values():
        dock.show()
    win.docks["segments"].raise_()  # Segments in front of Diagnosis
    default_sizes(win)
