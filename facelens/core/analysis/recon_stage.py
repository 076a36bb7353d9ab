"""The morphable-model fit as a per-frame step of the analysis (in the ordered sink, in time order).

Each block's stored-precision landmarks and pose (float32, as the results file keeps them) give
the pose-free meshes; :class:`~facelens.core.face.morphable.SessionFitter` fits them causally. These
streaming values are provisional (what the live view shows while the analysis runs): the session
pass (:mod:`facelens.core.analysis.session_pass`) rewrites every stored coefficient from the stored
columns, so the streaming fit uses the faster BLAS products, whose last bits may depend on how
frames are split into blocks. A resumed analysis rebuilds the fitter's state by replaying the
stored frames (:meth:`ReconStage.warm_up`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.core.common.types import Quality, is_usable
from facelens.core.face.morphable import MorphableModel, load_default, make_fitter


def posefree_columns(landmarks: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
                     scale: np.ndarray) -> np.ndarray:
    """(N, 478, 3) template-frame meshes from stored-precision (float32) image landmarks and pose."""
    from facelens.core.face.geometry import posefree_batch  # the one owner of the transform

    stored = [np.asarray(a, np.float32).astype(np.float64) for a in (landmarks, rotation, translation, scale)]
    with np.errstate(invalid="ignore", divide="ignore"):
        return posefree_batch(*stored)


def fit_inputs(cols: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(pose-free meshes, usable) of a block of results columns."""
    p = posefree_columns(cols["landmarks"], cols["rotation"], cols["translation"], cols["scale"])
    q = np.asarray(cols["quality"])
    # POOR_FIT is the session pass's own verdict on a tracker-usable frame: counted as input, so
    # that the pass run again on its own output (a resume) gives the same bits
    usable = (np.asarray(is_usable(q), bool) | (q == Quality.POOR_FIT)) & np.all(np.isfinite(p), axis=(1, 2))
    return p, usable


class ReconStage:
    """Adds ``coef_exp``, ``coef_id`` and ``fit_residual`` to each block (one instance per session)."""

    def __init__(self, model: MorphableModel | None = None, device: str | None = None) -> None:
        self.model = model or load_default()
        self.device = device  # None: numpy; else the torch device (core.common.devices.array_backend_device)
        self.fitter = make_fitter(self.model, device, exact=False)  # provisional values (module docstring)

    @property
    def coef_sizes(self) -> tuple[int, int]:
        """(K_exp, K_id) for the results writer."""
        return self.model.n_expression, self.model.n_identity

    def reset(self) -> None:
        self.fitter.reset()

    def columns(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The fit of one block, in time order after the previous blocks."""
        p, usable = fit_inputs(cols)
        fit = self.fitter.update(p, usable)
        ident = np.where(usable[:, None], fit.identity_frames, np.nan)
        return {"coef_exp": fit.expression.astype(np.float32), "coef_id": ident.astype(np.float32),
                "fit_residual": fit.residual.astype(np.float32)}

    def warm_up(self, partial: Path, n: int) -> None:
        """Replay the first ``n`` stored frames of an unfinished results file (resume)."""
        from facelens.core.results.reader import stored_frames

        self.reset()
        if n == 0:
            return
        self.columns(stored_frames(partial, n, ("landmarks", "rotation", "translation", "scale", "quality")))

    def card(self) -> dict:
        """The model card entry for the results file."""
        m = self.model.meta
        return {"id": "facelens-morphable", "task": "per-frame morphable-model fit (identity per session, "
                "expression per frame)", "version": f"{self.model.n_identity} identity + "
                f"{self.model.n_expression} expression components",
                "source": {"kind": "shipped", "path": "morphable/facelens_morphable.npz"},
                "device": self.device or "cpu", "backend": "numpy" if self.device is None else "torch",
                "training_data": m.get("sources", {}), "notes": "docs/morphable.md"}
