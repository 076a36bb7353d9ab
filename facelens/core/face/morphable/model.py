"""The FaceLens morphable face model on mediapipe's 478-point mesh topology (numpy only).

A shape is ``mean + identity_basis.T @ id_coef + expression_basis.T @ exp_coef`` in the pose-free
template frame of :mod:`facelens.core.face.geometry` (centimetres, y up). Each basis row is a
unit-norm direction over the 1,434 coordinates (rows orthonormal within a basis, not across the two
bases), so a coefficient is the length of that displacement in centimetres; ``identity_sd`` and
``expression_sd`` are the standard deviations of the coefficients in the data the model was built
from (the Gaussian prior used by the fit). How the shipped model was built: ``docs/morphable.md``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

N_VERTICES = 478
FORMAT = "facelens-morphable-1"
# Iris points (468..477) follow gaze, which is no facial expression: they get weight 0 in the fit
# and move rigidly with their eye's contour in the bases (see build.py).
IRIS = np.arange(468, 478)


class MorphableError(Exception):
    """A model file that cannot be used (one-line message)."""


@dataclass
class MorphableModel:
    """Mean shape, identity and expression bases with their prior standard deviations.

    Attributes
    ----------
    mean
        (478, 3) float32, template frame (cm).
    identity_basis, expression_basis
        (K_id, 478, 3) and (K_exp, 478, 3) float32, unit-norm rows.
    identity_sd, expression_sd
        (K_id,) and (K_exp,) float32 prior standard deviations of the coefficients (cm).
    noise_sd
        Standard deviation of one coordinate not explained by the model (cm).
    vertex_weight
        (478,) float32 weight of each vertex in the fit (0 for the iris points).
    meta
        Provenance: data, method, variance explained per component (JSON-serialisable).
    """

    mean: np.ndarray
    identity_basis: np.ndarray
    expression_basis: np.ndarray
    identity_sd: np.ndarray
    expression_sd: np.ndarray
    noise_sd: float
    vertex_weight: np.ndarray = field(default_factory=lambda: default_vertex_weight())
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, np.float32).reshape(N_VERTICES, 3)
        self.identity_basis = np.asarray(self.identity_basis, np.float32).reshape(-1, N_VERTICES, 3)
        self.expression_basis = np.asarray(self.expression_basis, np.float32).reshape(-1, N_VERTICES, 3)
        self.identity_sd = np.asarray(self.identity_sd, np.float32).reshape(-1)
        self.expression_sd = np.asarray(self.expression_sd, np.float32).reshape(-1)
        self.vertex_weight = np.asarray(self.vertex_weight, np.float32).reshape(N_VERTICES)
        self.noise_sd = float(self.noise_sd)
        if len(self.identity_sd) != len(self.identity_basis) or len(self.expression_sd) != len(self.expression_basis):
            raise MorphableError("basis and standard-deviation lengths differ")
        if not (np.all(self.identity_sd > 0) and np.all(self.expression_sd > 0) and self.noise_sd > 0):
            raise MorphableError("prior standard deviations must be positive")

    @property
    def n_identity(self) -> int:
        """Number of identity components (K_id)."""
        return len(self.identity_basis)

    @property
    def n_expression(self) -> int:
        """Number of expression components (K_exp)."""
        return len(self.expression_basis)

    def vertices(self, id_coef: np.ndarray | None = None, exp_coef: np.ndarray | None = None) -> np.ndarray:
        """Shapes ``(..., 478, 3)`` float32 from coefficients ``(..., K_id)`` and ``(..., K_exp)``.

        Either may be omitted (zeros: the mean identity, or no expression); leading dimensions
        broadcast against each other.
        """
        out = self.mean.astype(np.float64)
        if id_coef is not None:
            out = out + np.tensordot(np.asarray(id_coef, np.float64), self.identity_basis, axes=(-1, 0))
        if exp_coef is not None:
            out = out + np.tensordot(np.asarray(exp_coef, np.float64), self.expression_basis, axes=(-1, 0))
        return out.astype(np.float32)

    # -- files -------------------------------------------------------------------------------
    def save(self, path: Path) -> Path:
        """Write the model as one compressed ``.npz`` (float32 arrays + JSON metadata)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez_compressed(tmp, format=np.array(FORMAT), mean=self.mean, identity_basis=self.identity_basis,
                            expression_basis=self.expression_basis, identity_sd=self.identity_sd,
                            expression_sd=self.expression_sd, noise_sd=np.float32(self.noise_sd),
                            vertex_weight=self.vertex_weight, meta=np.array(json.dumps(self.meta)))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> MorphableModel:
        """Read a file written by :meth:`save` (:class:`MorphableError` with one line otherwise)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["format"]) != FORMAT:
                    raise MorphableError(f"{path.name} is not a FaceLens morphable model")
                return cls(mean=z["mean"], identity_basis=z["identity_basis"],
                           expression_basis=z["expression_basis"], identity_sd=z["identity_sd"],
                           expression_sd=z["expression_sd"], noise_sd=float(z["noise_sd"]),
                           vertex_weight=z["vertex_weight"], meta=json.loads(str(z["meta"])))
        except FileNotFoundError:
            raise MorphableError(f"morphable model not found: {path}") from None
        except (OSError, KeyError, ValueError) as exc:
            raise MorphableError(f"{path.name} is not a FaceLens morphable model: {exc}") from None


def model_meshes(model: MorphableModel, id_coef: np.ndarray | None, exp_coef: np.ndarray | None) -> np.ndarray:
    """Model meshes ``mean + identity_basis · id + expression_basis · exp`` (template frame, cm).

    ``id_coef`` (K_id,) or (N, K_id), ``exp_coef`` (K_exp,) or (N, K_exp); ``None`` is the mean identity
    or no expression. Returns (478, 3) for one frame, (N, 478, 3) for N; a frame with a NaN coefficient
    (not fitted) gives a NaN mesh. A coefficient vector of another width: :class:`MorphableError`.
    """
    for coef, k, what in ((id_coef, model.n_identity, "identity"), (exp_coef, model.n_expression, "expression")):
        if coef is not None and np.shape(coef)[-1:] != (k,):
            raise MorphableError(f"{what} coefficients have width {np.shape(coef)[-1:]}; this model has {k}")
    return model.vertices(id_coef, exp_coef)


def default_vertex_weight() -> np.ndarray:
    """Fit weight per vertex: 1 for the 468 mesh points, 0 for the 10 iris points."""
    w = np.ones(N_VERTICES, np.float32)
    w[IRIS] = 0.0
    return w


def default_model_path() -> Path:
    """``models/morphable/facelens_morphable.npz`` of the source tree or the installed share folder."""
    from facelens.core.common.paths import models_src_dir

    return models_src_dir() / "morphable" / "facelens_morphable.npz"


_DEFAULT: list[MorphableModel] = []


def load_default() -> MorphableModel:
    """The shipped model (loaded once per process; :class:`MorphableError` when missing or broken)."""
    if not _DEFAULT:
        try:
            path = default_model_path()
        except FileNotFoundError as exc:
            raise MorphableError(str(exc)) from None
        _DEFAULT.append(MorphableModel.load(path))
    return _DEFAULT[0]
