"""What the review view shows of one session: per-frame series plus lazy access to meshes and frames.

Two sources feed it: a finished results file (:class:`~facelens.core.results.SessionResults`), or the
batches a running analysis yields (``Progress.partial``), appended as they arrive so the plots fill in
while the analysis runs. Either way the views read the same arrays. GUI-thread only.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.timeaxis import nearest_frame
from facelens.core.common.types import N_LANDMARKS, QUALITY_LABELS, Quality, is_usable
from facelens.core.face.geometry import posefree_batch
from facelens.render.face_mesh import normalise_extent, upright_from_image

_GROW = 1024  # live buffers grow in steps of this many frames (amortised appends)


class SessionData:
    """Per-frame arrays of one session, finished or still being analysed.

    Attributes
    ----------
    time_s, valence, arousal, quality : np.ndarray
        Views of length :attr:`n_frames`.
    duration_s : float
        Length of the recording (from the video or the results meta).
    video_path : Path | None
        The recording, for the frame view.
    live : bool
        True while frames are still being appended by an analysis.
    """

    def __init__(self, duration_s: float, video_path: Path | None, *, is_demo: bool = False,
                 models: list[dict[str, Any]] | None = None, title: str = "") -> None:
        self.duration_s = float(duration_s) if np.isfinite(duration_s) else 0.0
        self.video_path = video_path
        self.is_demo = is_demo
        self.models = list(models or [])
        self.title = title
        self.results: Any = None
        self.live = False
        self._n = 0
        self._t = np.zeros(0)
        self._v = np.zeros(0, np.float32)
        self._a = np.zeros(0, np.float32)
        self._q = np.zeros(0, np.uint8)
        self._lm: np.ndarray | None = None  # live landmarks (n, 478, 3)
        self._rot = self._tr = self._sc = None

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_results(cls, results: Any, video_path: Path | None = None, title: str = "") -> SessionData:
        """Wrap an open :class:`SessionResults` (kept open: meshes are read lazily)."""
        vp = video_path or Path(str(results.meta.get("video_path", ""))) or None
        data = cls(results.duration_s, vp if vp and str(vp) else None, is_demo=results.is_demo,
                   models=results.models, title=title)
        data.results = results
        data._n = results.n_frames
        data._t = np.asarray(results.time_s, dtype=np.float64)
        data._v = np.asarray(results.valence, dtype=np.float32)
        data._a = np.asarray(results.arousal, dtype=np.float32)
        data._q = np.asarray(results.quality, dtype=np.uint8)
        if not data.duration_s and data._n:
            data.duration_s = float(data._t[-1])
        return data

    @classmethod
    def live_session(cls, duration_s: float, video_path: Path | None, title: str = "") -> SessionData:
        """An empty session that an analysis in progress fills with :meth:`append_batch`."""
        data = cls(duration_s, video_path, title=title)
        data.live = True
        data._lm = np.zeros((0, N_LANDMARKS, 3), np.float32)
        return data

    def append_batch(self, columns: dict[str, np.ndarray]) -> None:
        """Append one batch of pipeline columns (``Progress.partial``)."""
        t = np.asarray(columns.get("time_s", []), dtype=np.float64)
        b = len(t)
        if b == 0:
            return

        def col(name: str, shape: tuple[int, ...], fill: float) -> np.ndarray:
            c = columns.get(name)
            return np.full((b, *shape), fill, np.float32) if c is None else np.asarray(c, np.float32)

        need = self._n + b
        if need > len(self._t):
            cap = need + _GROW
            self._t = _grow(self._t, cap)
            self._v, self._a = _grow(self._v, cap), _grow(self._a, cap)
            self._q = _grow(self._q, cap)
            self._lm = _grow(self._lm, cap)
            self._rot, self._tr, self._sc = (_grow(self._rot, cap, (3, 3)), _grow(self._tr, cap, (3,)),
                                             _grow(self._sc, cap))
        s = slice(self._n, need)
        self._t[s] = t
        self._v[s] = col("valence", (), np.nan)
        self._a[s] = col("arousal", (), np.nan)
        q = columns.get("quality")
        self._q[s] = Quality.NO_FACE if q is None else np.asarray(q, np.uint8)
        self._lm[s] = col("landmarks", (N_LANDMARKS, 3), np.nan)
        self._rot[s] = col("rotation", (3, 3), np.nan)
        self._tr[s] = col("translation", (3,), np.nan)
        self._sc[s] = col("scale", (), np.nan)
        self._n = need

    # -- series --------------------------------------------------------------------------------
    @property
    def n_frames(self) -> int:
        return self._n

    @property
    def time_s(self) -> np.ndarray:
        return self._t[: self._n]

    @property
    def valence(self) -> np.ndarray:
        return self._v[: self._n]

    @property
    def arousal(self) -> np.ndarray:
        return self._a[: self._n]

    @property
    def quality(self) -> np.ndarray:
        return self._q[: self._n]

    @property
    def usable(self) -> np.ndarray:
        return is_usable(self.quality)

    def frame_at_time(self, t: float) -> int:
        """Nearest sampled frame (−1 when there is none yet)."""
        n = self._n
        if n == 0:
            return -1
        return nearest_frame(self.time_s, t)

    def reason_at(self, i: int) -> str:
        """Why frame ``i`` is not usable ('' when it is)."""
        if not 0 <= i < self._n:
            return ""
        q = int(self._q[i])
        return "" if q in (Quality.OK, Quality.MULTIPLE_FACES) else QUALITY_LABELS.get(Quality(q), "unusable")

    # -- meshes --------------------------------------------------------------------------------
    def landmarks_px(self, i: int) -> np.ndarray | None:
        """Frame ``i``'s mesh in image pixels, or ``None`` without a face."""
        if not 0 <= i < self._n:
            return None
        lm = self.results.landmarks(i) if self.results is not None else self._lm[i]  # type: ignore[index]
        lm = np.asarray(lm, np.float32)
        return lm if np.all(np.isfinite(lm)) else None

    def view_mesh(self, i: int, posefree: bool = False) -> np.ndarray | None:
        """Vertices for the 3D view: upright and centred; with head pose, or expression only."""
        if posefree:
            pf = self._posefree(i)
            return None if pf is None else normalise_extent(_template_upright(pf))
        lm = self.landmarks_px(i)
        return None if lm is None else upright_from_image(lm)

    def _posefree(self, i: int) -> np.ndarray | None:
        if not 0 <= i < self._n:
            return None
        if self.results is not None:
            pf = np.asarray(self.results.posefree_mesh(i), np.float32)
        else:
            lm = self.landmarks_px(i)
            s = float(self._sc[i])  # type: ignore[index]
            if lm is None or not np.isfinite(s) or s == 0:
                return None
            pf = posefree_batch(lm[None], self._rot[i][None], self._tr[i][None],  # type: ignore[index]
                                np.array([s]))[0].astype(np.float32)
        return pf if np.all(np.isfinite(pf)) else None

    def close(self) -> None:
        if self.results is not None:
            self.results.close()
            self.results = None


def _template_upright(points: np.ndarray) -> np.ndarray:
    """The pose-free mesh is in the template's frame (``core.geometry``: y up, z towards the camera),
    which is already the view's convention."""
    return np.asarray(points, np.float32)


def _grow(a: np.ndarray | None, cap: int, shape: tuple[int, ...] | None = None) -> np.ndarray:
    if a is None:
        return np.full((cap, *(shape or ())), np.nan, np.float32)
    out = np.full((cap, *a.shape[1:]), np.nan if a.dtype.kind == "f" else 0, a.dtype)
    out[: len(a)] = a
    return out
