"""The video frame at the playhead, decoded in a background thread, with an optional mesh overlay.

Decoding a frame can take tens of milliseconds (seek to a keyframe, decode forward), so it never runs
on the GUI thread: :class:`FrameLoader` keeps only the latest request (older ones are dropped while it
is busy, which is what scrubbing needs) and hands back a ``QImage`` through a signal.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QThread, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from facelens.render.colors import MESH_OVERLAY_HEX

#: What an empty window says (first start, or no session open).
EMPTY_GUIDE = ("Start by importing a recording:\nFile ▸ Import session… (Ctrl+I), or drop a video file here.\n"
               "Then select it and press Analyse; double-click a session to open it.")
CACHE_FRAMES = 16  # ~1.6 s of sampled frames: stepping back and forth needs no decode


class FrameLoader(QThread):
    """Decodes ``frame_at(t)`` for the latest requested time; emits ``frame_ready(t, image)``."""

    frame_ready = Signal(float, QImage)
    failed = Signal(str)
    opened = Signal(float)  # the recording's duration (s), once it is open (read in this thread)

    def __init__(self, video_path: Path) -> None:
        super().__init__()
        self.video_path = Path(video_path)
        self._cond = threading.Condition()
        self._pending: float | None = None
        self._ahead: float | None = None
        self._cache: dict[float, QImage] = {}  # decoded frames by time (only this thread touches it)
        self._stop = False

    def request(self, t: float, ahead: float | None = None) -> None:
        """Ask for the frame at ``t`` (replaces any request not yet started); ``ahead`` is decoded
        next, while the view shows ``t``, so that playback finds the following frame ready."""
        with self._cond:
            self._pending = float(t)
            self._ahead = None if ahead is None else float(ahead)
            self._cond.notify()

    def _decode(self, session: Any, t: float) -> QImage | None:
        img = self._cache.get(t)
        if img is not None:
            return img
        try:
            frame = session.frame_at(t)
        except Exception as exc:  # noqa: BLE001
            self.failed.emit(f"cannot decode the frame at {t:.2f} s: {exc}")
            return None
        rgb = np.ascontiguousarray(frame.rgb)
        h, w = rgb.shape[:2]
        img = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()  # own the pixels
        self._cache[t] = img
        while len(self._cache) > CACHE_FRAMES:  # oldest first (dicts keep insertion order)
            self._cache.pop(next(iter(self._cache)))
        return img

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self.wait(5000)

    def run(self) -> None:  # worker thread
        try:
            from facelens.core.media.video import open_media

            session = open_media(self.video_path)
        except Exception as exc:  # noqa: BLE001 - reported to the user as one line
            self.failed.emit(f"cannot open the recording {self.video_path.name}: {exc}")
            return
        duration = getattr(getattr(session, "info", None), "duration_s", None)
        if duration is not None:
            self.opened.emit(float(duration))
        try:
            while True:
                with self._cond:
                    while self._pending is None and self._ahead is None and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    if self._pending is None:  # idle: decode the frame playback will want next
                        t, self._ahead, show = self._ahead, None, False
                    else:
                        t, self._pending, show = self._pending, None, True
                img = self._decode(session, t)
                if img is not None and show:
                    self.frame_ready.emit(t, img)
        finally:
            close = getattr(session, "close", None)
            if callable(close):
                close()


class VideoView(QWidget):
    """Paints the current frame (letter-boxed) and, when enabled, the tracked mesh on top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 90)
        self.setToolTip("Video frame at the playhead (mesh overlay: View ▸ Mesh overlay)")
        self._image: QImage | None = None
        self._image_time = float("nan")
        self._landmarks: QPolygonF | None = None
        self.show_overlay = True
        self.message = EMPTY_GUIDE
        self.excluded = ""  # why the frame on screen was left out of the analysis ('' when it was used)

    def sizeHint(self) -> QSize:
        return QSize(480, 270)

    def set_image(self, t: float, image: QImage) -> None:
        self._image = image
        self._image_time = t
        self.message = ""
        self.update()

    @property
    def image_time(self) -> float:
        """Time of the frame on screen (NaN before the first)."""
        return self._image_time

    def set_landmarks(self, landmarks_px: np.ndarray | None) -> None:
        # Built once per frame in image pixels; paintEvent only sets a scale transform (no per-point
        # Python work per repaint).
        if landmarks_px is None:
            self._landmarks = None
        else:
            xy = np.asarray(landmarks_px, dtype=float)[:, :2]
            self._landmarks = QPolygonF([QPointF(float(x), float(y)) for x, y in xy])
        self.update()

    def set_excluded(self, reason: str) -> None:
        """Mark the frame as excluded from the analysis (a banner with the reason), or clear it."""
        if reason != self.excluded:
            self.excluded = reason
            self.setToolTip(f"Frame excluded from the analysis: {reason}" if reason else
                            "Video frame at the playhead (mesh overlay: View ▸ Mesh overlay)")
            self.update()

    def set_overlay(self, on: bool) -> None:
        self.show_overlay = bool(on)
        self.update()

    def clear(self, message: str = "") -> None:
        self._image = None
        self._landmarks = None
        self._image_time = float("nan")
        self.message = message
        self.update()

    def _target_rect(self) -> QRectF:
        assert self._image is not None
        iw, ih = self._image.width(), self._image.height()
        s = min(self.width() / iw, self.height() / ih)
        w, h = iw * s, ih * s
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: object) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#101215"))
        if self._image is None:
            p.setPen(QColor("#AAB0B8"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.message)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
        r = self._target_rect()
        p.drawImage(r, self._image)
        if self.excluded:
            p.save()
            band = QRectF(r.x(), r.y(), r.width(), 24)
            p.fillRect(band, QColor(183, 28, 28, 200))
            p.setPen(QColor("#FFFFFF"))
            p.drawText(band, Qt.AlignmentFlag.AlignCenter, f"excluded: {self.excluded}")
            p.restore()
        if self.show_overlay and self._landmarks is not None:
            s = r.width() / self._image.width()
            p.translate(r.x(), r.y())
            p.scale(s, s)
            pen = QPen(QColor(MESH_OVERLAY_HEX))
            pen.setWidthF(2.0)
            pen.setCosmetic(True)  # 2 screen pixels whatever the scale
            p.setPen(pen)
            p.drawPoints(self._landmarks)
