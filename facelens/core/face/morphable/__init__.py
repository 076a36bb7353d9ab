"""The FaceLens morphable face model: mean shape, identity and expression bases on mediapipe's mesh,
learned from pose-free meshes (:mod:`.build`), and its per-frame fit (:mod:`.fit`). See
``docs/morphable.md``."""
from facelens.core.face.morphable.backend import make_fitter
from facelens.core.face.morphable.fit import SessionFit, SessionFitter, fit_session
from facelens.core.face.morphable.model import MorphableError, MorphableModel, load_default

__all__ = ["MorphableError", "MorphableModel", "SessionFit", "SessionFitter", "fit_session", "load_default", "make_fitter"]
