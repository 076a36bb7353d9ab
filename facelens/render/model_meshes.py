"""The morphable model's meshes for the 3D view (numpy only: no Qt, no VisPy).

A results file of schema 2 stores per frame the expression coefficients ``coef_exp`` and the identity
the frame was fitted with ``coef_id`` (both NaN where the frame was not fitted: unusable).
:class:`ModelMeshes` turns them into view-space vertices for three choices of the 3D view:

* ``"reconstruction"``: the frame's identity and expression, ``mean + A' id_n + B' exp_n``;
* ``"expression"``: the frame's expression on the mean face, ``mean + B' exp_n``;
* ``"neutral"``: the session's identity with no expression, ``mean + A' id`` — this person's neutral
  face under the model; one mesh for the whole session. The session's identity is the one the
  session pass stores (results attribute ``session_identity``: the person's reference face, each
  frame's ``coef_id`` being that reference plus the frame's own deviation); files without it use
  the identity of the last fitted frame (a causal fit's last frame has seen every frame before it).

The meshes are in the model's pose-free template frame (y up, z towards the camera), the frame of
the tracked mesh's "Expression only" view, and are framed as it is (:func:`face_mesh.normalise_extent`).
Texture coordinates belong to the tracked landmarks, so these meshes are never textured.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from facelens.core.face.morphable.model import MorphableModel, model_meshes
from facelens.render.face_mesh import normalise_extent

MODEL_MODES = ("reconstruction", "expression", "neutral")
#: Why the model choices are unavailable (one line each, shown as tool tips).
NO_FIT = "this analysis has no morphable fit; re-analyse"
LIVE = "available when the analysis has finished"
NO_SESSION = "open an analysed session"
NO_FRAME = "no morphable fit at this frame"
LOADING = "loading the morphable model…"
#: The 3D view's mesh choices (``AppSettings.face_mesh``, in ``viewmodel.settings.MESH_MODES`` order):
#: label and tool tip.
MESH_CHOICES = {
    "tracked": ("Tracked", "The mesh tracked in the video"),
    "reconstruction": ("Reconstruction", ("The morphable model fitted to this frame: the session's identity "
                                          "and this frame's expression (pose-free)")),
    "expression": ("Expression on mean face", "This frame's expression on the model's mean face (pose-free)"),
    "neutral": ("Neutral reference", ("This person's neutral face under the model: the session's identity, "
                                      "no expression (the same for every frame)")),
}


def fit_columns(data: Any) -> tuple[np.ndarray | None, np.ndarray | None, str]:
    """``(coef_id, coef_exp, why)`` of a session shown in the review (``gui.session_data.SessionData``
    or ``None``): the stored coefficient columns, or ``None``s and why the model meshes are unavailable."""
    if data is None:
        return None, None, NO_SESSION
    results = getattr(data, "results", None)
    if results is None:
        return None, None, LIVE if getattr(data, "live", False) else NO_SESSION
    cid, cexp = getattr(results, "coef_id", None), getattr(results, "coef_exp", None)
    if cid is None or cexp is None:
        return None, None, NO_FIT
    return np.asarray(cid), np.asarray(cexp), ""


class ModelMeshes:
    """The model meshes of one session (coefficients kept in memory; one mesh computed per request).

    Parameters
    ----------
    model : the morphable model the session was fitted with.
    coef_id, coef_exp : (N, K_id) and (N, K_exp) coefficients of the session's frames.

    Attributes
    ----------
    why : str
        '' when the meshes can be shown, else why not (one line).
    """

    def __init__(self, model: MorphableModel, coef_id: np.ndarray, coef_exp: np.ndarray,
                 session_identity: Any = None) -> None:
        self.model = model
        ref = None if session_identity is None else np.asarray(session_identity, np.float32).reshape(-1)
        self._reference = ref if ref is not None and ref.shape == (model.n_identity,) and np.isfinite(ref).all() \
            else None
        self.coef_id = np.asarray(coef_id, np.float32)
        self.coef_exp = np.asarray(coef_exp, np.float32)
        self.why = ""
        if (self.coef_id.ndim != 2 or self.coef_exp.ndim != 2 or self.coef_id.shape[1] != model.n_identity
                or self.coef_exp.shape[1] != model.n_expression or len(self.coef_id) != len(self.coef_exp)):
            self.why = "this analysis was fitted with another morphable model; re-analyse"
            self.fitted = np.zeros(0, bool)
        else:
            self.fitted = np.all(np.isfinite(self.coef_id), axis=1) & np.all(np.isfinite(self.coef_exp), axis=1)
            if not self.fitted.any():
                self.why = "no frame of this analysis has a morphable fit"
        self._neutral: np.ndarray | None = None

    @property
    def identity(self) -> np.ndarray | None:
        """(K_id,) the session's identity: the stored reference, else that of the last fitted frame
        (``None`` without one)."""
        if self._reference is not None and self.fitted.any():
            return self._reference
        idx = np.flatnonzero(self.fitted)
        return None if not len(idx) else self.coef_id[idx[-1]]

    def template(self, i: int, mode: str) -> np.ndarray | None:
        """Frame ``i``'s model mesh (478, 3) in the template frame (cm), ``None`` where it has no fit."""
        if self.why:
            return None
        if mode == "neutral":
            ident = self.identity
            return None if ident is None else model_meshes(self.model, ident, None)
        if mode not in MODEL_MODES:
            raise ValueError(f"unknown model mesh {mode!r}; one of {', '.join(MODEL_MODES)}")
        if not (0 <= i < len(self.fitted)) or not self.fitted[i]:
            return None
        ident = self.coef_id[i] if mode == "reconstruction" else None
        return model_meshes(self.model, ident, self.coef_exp[i])

    def view(self, i: int, mode: str) -> np.ndarray | None:
        """:meth:`template` framed for the 3D view (centred, one unit wide); the neutral mesh is made
        once per session and the same array is returned for every frame."""
        if mode == "neutral":
            if self._neutral is None:
                t = self.template(i, mode)
                self._neutral = None if t is None else normalise_extent(t)
            return self._neutral
        t = self.template(i, mode)
        return None if t is None else normalise_extent(t)


class MeshChoice:
    """Which mesh the 3D view shows for the open session: the choice (kept in the preferences) and whether
    this session allows it (Qt-free state of ``gui.face_view``'s "Mesh" box).

    ``why`` is '' when the model meshes can be shown, :data:`LOADING` while the model is being read,
    else the reason they cannot (and the view shows the tracked mesh, keeping the choice for later).
    """

    def __init__(self) -> None:
        self.wanted = "tracked"
        self.model: MorphableModel | None = None
        self.fit: ModelMeshes | None = None
        self.why = NO_SESSION
        self._cols: tuple[Any, Any, Any] = (None, None, None)

    def open(self, data: Any) -> bool:
        """A session opens (``None``: none); True when the model must be loaded first."""
        cid, cexp, self.why = fit_columns(data)
        meta = getattr(getattr(data, "results", None), "meta", None)
        ref = meta.get("session_identity") if isinstance(meta, dict) else None
        self._cols, self.fit = (cid, cexp, ref), None
        if self.why:
            return False
        self.why = LOADING
        if self.model is None:
            return True
        self.model_loaded(self.model, "")
        return False

    def model_loaded(self, model: MorphableModel | None, err: str) -> None:
        """The model was read (``None`` and ``err`` when it could not be)."""
        self.model = model
        if self.why != LOADING:  # no session waits for it (closed or switched meanwhile)
            return
        if model is None:
            self.why = f"the morphable model cannot be read: {err}"
        else:
            self.fit = ModelMeshes(model, *self._cols)
            self.why = self.fit.why

    @property
    def usable(self) -> bool:
        return self.why in ("", LOADING)

    @property
    def mode(self) -> str:
        """The mesh shown: the choice, or "tracked" while this session has no model meshes."""
        return self.wanted if self.usable else "tracked"

    def available(self, modes: tuple[str, ...]) -> list[str]:
        return [m for m in modes if m == "tracked" or self.usable]

    def mesh(self, frame: int, tracked: Any, reason: str) -> tuple[np.ndarray | None, str]:
        """The chosen model mesh at ``frame`` (``tracked``: the tracked mesh there, ``None`` for a gap with
        ``reason``), or ``None`` and why not."""
        if self.fit is None:  # the model is still loading (a moment, once): no message
            return None, "" if self.why == LOADING else self.why
        if self.mode == "neutral":  # the session's, not the frame's: shown on every frame
            return self.fit.view(frame, "neutral"), ""
        if tracked is None:  # an excluded frame, or none: a gap, as for the tracked mesh
            return None, reason
        shown = self.fit.view(frame, self.mode)
        return shown, "" if shown is not None else NO_FRAME
