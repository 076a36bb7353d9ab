"""The 3D face viewport: a VisPy scene (from :mod:`facelens.render`) drawn offscreen and shown as an image.

Why not embed the VisPy canvas (a ``QOpenGLWidget``) directly: one ``QOpenGLWidget`` anywhere in a window
makes Qt composite the *whole* window with OpenGL, so every repaint of any widget (a label, the plot
cursor) re-uploads and redraws the full window. Under software OpenGL (llvmpipe, Xvfb, remote desktops)
that measured ≈35 ms per repaint instead of <1 ms (``docs/gui.md``), which capped playback below 15
updates/s. Here the canvas lives in a hidden top-level widget (``WA_DontShowOnScreen``: it gets its GL
context but is never mapped), each change is drawn once into a cached framebuffer
(:meth:`FaceScene.render_image`) and painted by a plain raster widget; mouse and wheel events are handed
to the hidden canvas so orbiting and zooming work as before.

Orbit with the left mouse button, zoom with the wheel; "Reset view" returns to the upright front view.
"Expression only" shows the pose-free mesh (the head's rotation and position removed). "Video texture"
(on by default, kept in the preferences: ``AppSettings.face_texture``) paints the frame the mesh was tracked
in onto it (:mod:`facelens.render.face_texture`). The mesh and its texture always come from the same
sampled frame: a mesh whose frame is still being decoded waits for it (at most ``TEXTURE_WAIT_MS``, then
it is drawn as plain skin), and a hidden face (an excluded frame) drops the texture.

"Mesh" (``AppSettings.face_mesh``) picks the tracked mesh or one of the morphable model's
(:mod:`facelens.render.model_meshes`: this frame's reconstruction, its expression on the mean face, the
session's neutral reference). Those are pose-free and never textured (the texture's coordinates belong to
the tracked landmarks), so both toggles are disabled while one is shown; a frame without a fit hides the
face, and an analysis without the fit disables them with the reason. The model loads once, in a thread.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from facelens.gui.mesh_box import MeshBox
from facelens.render.colors import VIEWPORT_BG_RGBA
from facelens.render.face_mesh import FaceScene
from facelens.render.face_texture import FaceTexture, crop_box, target_size, texture_coords

_RETRY_MS = 30  # the hidden canvas has no GL context yet: try again shortly
#: How long a mesh waits for its own video frame before it is drawn untextured. The decoder works one frame
#: ahead in playback, so the frame is usually there already; 150 ms covers a seek to a keyframe at 640×360.
TEXTURE_WAIT_MS = 150
TIPS = {"texture": "Paint the video frame onto the face (never in reports or snapshots)",
        "no_texture": "Not for the model's meshes: the video's texture coordinates belong to the tracked landmarks",
        "posefree": "Remove head rotation and position: show the pose-free expression",
        "no_posefree": "The model's meshes are always pose-free (the model's template frame)"}


class FaceImage(QWidget):
    """Paints the last offscreen render; forwards mouse and wheel events to the hidden VisPy canvas."""

    def __init__(self, owner: FaceView) -> None:
        super().__init__(owner)
        self._owner = owner
        self.image: QImage | None = None
        self._pixels: np.ndarray | None = None  # keeps the QImage's memory alive
        self.setMinimumSize(160, 160)
        self.setMouseTracking(False)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # we fill every pixel
        self.setToolTip("3D face: drag to orbit, wheel to zoom")

    def sizeHint(self) -> QSize:
        return QSize(400, 400)

    def set_pixels(self, rgba: np.ndarray) -> None:
        """Show an (H, W, 4) uint8 render (wrapped, not copied)."""
        self._pixels = np.ascontiguousarray(rgba)
        h, w = self._pixels.shape[:2]
        self.image = QImage(self._pixels.data, w, h, 4 * w, QImage.Format.Format_RGBA8888)
        self.update()

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        if self.image is None:
            r, g, b = (int(255 * c) for c in VIEWPORT_BG_RGBA[:3])
            p.fillRect(self.rect(), QColor(r, g, b))
            return
        # Same size as the canvas except for a moment while resizing: then stretch, never tile.
        p.drawImage(self.rect(), self.image)

    def resizeEvent(self, event: Any) -> None:
        self._owner.resize_canvas(event.size())
        super().resizeEvent(event)

    # Mouse and wheel: the hidden canvas turns them into camera moves, which ask for a redraw.
    def _forward(self, name: str, event: Any) -> None:
        getattr(self._owner.scene.canvas.native, name)(event)
        event.accept()

    def mousePressEvent(self, event: Any) -> None:
        self._forward("mousePressEvent", event)

    def mouseMoveEvent(self, event: Any) -> None:
        self._forward("mouseMoveEvent", event)

    def mouseReleaseEvent(self, event: Any) -> None:
        self._forward("mouseReleaseEvent", event)

    def mouseDoubleClickEvent(self, event: Any) -> None:
        self._forward("mouseDoubleClickEvent", event)

    def wheelEvent(self, event: Any) -> None:
        self._forward("wheelEvent", event)


class FaceView(QWidget):
    """Shows one mesh at a time; :meth:`set_vertices` is called for every playback update.

    Attributes
    ----------
    scene : FaceScene
        The VisPy scene (canvas hidden; see the module docstring).
    display : FaceImage
        The widget on screen.
    renders : int
        Offscreen renders so far (benchmarks and tests check that one change costs one render).
    """

    posefree_toggled = Signal(bool)
    mesh_state_changed = Signal()  # the mesh shown or the choices available changed (menus follow)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene = FaceScene(size=(400, 400))
        self.renders = 0
        host = self.scene.canvas.native
        host.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        host.show()  # creates its GL context; never mapped, never part of this window
        # Every VisPy update request (mesh data, camera moves) becomes one coalesced offscreen render
        # instead of a repaint of the hidden widget. _vispy_update is the backend's only repaint hook.
        backend = getattr(self.scene.canvas, "_backend", None)
        if backend is not None and hasattr(backend, "_vispy_update"):
            backend._vispy_update = self.schedule_render
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.render_now)
        self.display = FaceImage(self)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.setToolTip("Upright front view")
        self.reset_button.clicked.connect(self.reset_view)
        self.posefree_box = QCheckBox("Expression only")
        self.posefree_box.setToolTip(TIPS["posefree"])
        self.posefree_box.toggled.connect(self.posefree_toggled)
        self.texture_box = QCheckBox("Video texture")
        self.texture_box.setToolTip(TIPS["texture"])
        self.texture_box.setChecked(True)
        self.texture_box.toggled.connect(self._texture_toggled)
        self._frame_i = -1
        self._reason = ""
        self._drawn: np.ndarray | None = None  # the model mesh on screen (a static one is not re-sent)
        self._prefs: Any = None
        self._mesh: tuple[Any, Any, Any] = (None, None, None)  # vertices, landmarks (px), frame time
        self._frame: tuple[float, QImage] | None = None  # the latest decoded frame (time, image)
        self._texture: FaceTexture | None = None  # the last texture cut (reused for the same frame)
        self._waiting = False
        self._late = False  # the last wait for a frame timed out
        self._wait = QTimer(self)
        self._wait.setSingleShot(True)
        self._wait.timeout.connect(self._frame_late)
        self.status = QLabel("")
        self.status.setObjectName("faceStatus")
        # a long reason must never widen the window: it is clipped, and whole in the tooltip
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setMinimumWidth(0)
        tools = QHBoxLayout()
        tools.setContentsMargins(4, 2, 4, 2)
        tools.addWidget(self.reset_button)
        tools.addWidget(self.posefree_box)
        tools.addWidget(self.texture_box)
        tools.addStretch(1)
        tools.addWidget(self.status)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.display, 1)
        lay.addLayout(tools)
        self.mesh_box = MeshBox()
        self.mesh_box.changed.connect(self._mesh_changed)
        tools.insertWidget(3, QLabel("Mesh:"))
        tools.insertWidget(4, self.mesh_box)
        self._mesh_changed()
        self.schedule_render()

    # -- rendering -------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setToolTip(text)

    def schedule_render(self, delay_ms: int = 0) -> None:
        """Render at the next turn of the event loop (several requests in one turn: one render)."""
        if not self._timer.isActive():
            self._timer.start(delay_ms)

    def render_now(self) -> bool:
        """Draw the scene offscreen and show it; False while the hidden canvas has no GL context yet."""
        host = self.scene.canvas.native
        if host is None or not host.isValid():
            self.schedule_render(_RETRY_MS)
            return False
        self.display.set_pixels(self.scene.render_image())
        self.renders += 1
        return True

    def resize_canvas(self, size: QSize) -> None:
        """Keep the hidden canvas the size of the display (the camera's aspect follows it)."""
        host = self.scene.canvas.native
        if host is not None and size.width() > 0 and size.height() > 0 and host.size() != size:
            host.resize(size)
            self.schedule_render()

    # -- content ---------------------------------------------------------------------------------
    def set_vertices(self, vertices: np.ndarray | None, reason: str = "", excluded: bool = True, *,
                     landmarks_px: np.ndarray | None = None, frame_time: float | None = None,
                     frame: int = -1) -> None:
        """Show a mesh (view space) or, with ``None``, hide it and say why (``excluded``: the frame was
        analysed and left out; otherwise ``reason`` is shown as it is, e.g. "not analysed yet").

        ``landmarks_px`` (the frame's tracked landmarks in image pixels) and ``frame_time`` (its sampled
        time, the one the video frame is requested at) let the video texture map; without them, or with the
        texture off, the face is plain skin. ``frame``: the session's frame index (for the model meshes).
        """
        self._reason = (f"frame excluded: {reason}" if excluded else reason) if reason else ""
        self._mesh = (vertices, landmarks_px, frame_time)
        self._frame_i = int(frame)
        self._show_mesh()

    def set_frame(self, t: float, image: QImage) -> None:
        """The video frame at sampled time ``t`` was decoded; a mesh of that frame takes it as texture."""
        self._frame = (float(t), image)
        vertices, _lm, ft = self._mesh
        if (vertices is not None and ft is not None and float(ft) == float(t) and self.texture_box.isChecked()
                and self.mesh_mode == "tracked"
                and (self._waiting or self.scene.texture_time != float(t))):
            self._show_mesh()

    def clear_frames(self) -> None:
        """Forget decoded frames (another session opens: its frame times may repeat the last one's)."""
        self._frame = None
        self._texture = None
        self._late = False

    def _show_mesh(self) -> None:
        vertices, landmarks, ft = self._mesh
        if self.mesh_mode != "tracked":
            self._stop_waiting()
            shown, why = self.mesh_box.choice.mesh(self._frame_i, vertices, self._reason)
            self._say(why)
            if shown is None or shown is not self._drawn or not self.scene.mesh.visible:
                self.scene.set_face(shown)  # never textured: plain skin, drawn eyes and mouth
            self._drawn = shown
            return
        self._drawn = None
        self._say("" if vertices is not None else self._reason)
        if vertices is None or landmarks is None or ft is None or not self.texture_box.isChecked():
            self._stop_waiting()
            self.scene.set_face(vertices)  # asks VisPy for an update: one render is scheduled
            return
        tex = self._texture_for(float(ft), landmarks)
        if tex is not None:
            self._stop_waiting()
            self._late = False
            self.scene.set_face(vertices, tex)
        elif self._late:  # frames have been arriving late: draw now, untextured; set_frame adds the texture
            self._stop_waiting()
            self.scene.set_face(vertices)
        elif not self._waiting:  # its frame is still being decoded: keep the last picture a moment
            self._waiting = True
            self._wait.start(TEXTURE_WAIT_MS)  # a newer mesh while waiting keeps this deadline: no freeze

    def _stop_waiting(self) -> None:
        self._wait.stop()
        self._waiting = False

    def _frame_late(self) -> None:
        """The mesh's frame did not arrive in time (a slow or failing decoder): show the mesh untextured;
        until a frame is on time again, meshes are drawn at once and get their texture when it comes."""
        self._waiting = False
        self._late = True
        self.scene.set_face(self._mesh[0])

    def _texture_for(self, t: float, landmarks: np.ndarray) -> FaceTexture | None:
        """The crop of the frame at ``t`` around the face (``None`` while that frame is not decoded)."""
        if self._frame is None or self._frame[0] != t:
            return None
        if self._texture is not None and self._texture.time_s == t:
            return self._texture
        image = self._frame[1]
        box = crop_box(landmarks, image.width(), image.height())
        # As big as the view can show (the face fills about two thirds of it), never bigger than the crop.
        tw, th = target_size(box, max(self.scene.canvas.physical_size))
        crop = image.copy(QRect(box[0], box[1], box[2] - box[0], box[3] - box[1]))
        if (crop.width(), crop.height()) != (tw, th):
            crop = crop.scaled(tw, th, Qt.AspectRatioMode.IgnoreAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
        crop = crop.convertToFormat(QImage.Format.Format_RGB888)
        rows = np.frombuffer(crop.constBits(), np.uint8).reshape(th, crop.bytesPerLine())
        rgb = rows[:, : 3 * tw].reshape(th, tw, 3).copy()
        self._texture = FaceTexture(rgb, texture_coords(landmarks, box), t)
        return self._texture

    # -- the mesh choice --------------------------------------------------------------------------
    def set_session(self, data: Any) -> None:
        """Another session (``gui.session_data.SessionData``, or ``None``) opens: forget the last one's
        frames, mesh and fit; the model meshes come from this session's coefficients only."""
        self.clear_frames()
        self._mesh, self._frame_i, self._reason, self._drawn = (None, None, None), -1, "", None
        self.scene.set_face(None)
        self.mesh_box.open_session(data)

    @property
    def mesh_mode(self) -> str:
        """The mesh shown (``MESH_MODES``): the choice, or "tracked" while the session has no model meshes."""
        return self.mesh_box.mode

    def _mesh_changed(self) -> None:
        model = self.mesh_mode != "tracked"
        self.texture_box.setEnabled(not model)
        self.texture_box.setToolTip(TIPS["no_texture" if model else "texture"])
        self.posefree_box.setEnabled(not model)
        self.posefree_box.setToolTip(TIPS["no_posefree" if model else "posefree"])
        self._show_mesh()
        self.mesh_state_changed.emit()

    # -- preferences -----------------------------------------------------------------------------
    def bind_settings(self, prefs: Any) -> None:
        """Take "Video texture" and "Mesh" from the preferences (``AppSettings.face_texture``,
        ``face_mesh``) and keep them there."""
        self._prefs = prefs
        self.texture_box.setChecked(bool(prefs.face_texture))
        self.mesh_box.bind_settings(prefs)

    def _texture_toggled(self, on: bool) -> None:
        if self._prefs is not None and bool(self._prefs.face_texture) != on:
            self._prefs.face_texture = on
        self._show_mesh()

    def reset_view(self) -> None:
        self.scene.reset_view()
        self.schedule_render()

    def close_scene(self) -> None:
        self._timer.stop()
        self._wait.stop()
        self.scene.close()
