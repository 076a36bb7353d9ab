"""Per-frame fitting of the morphable model: one identity per session, expression per frame.

The model is linear with Gaussian priors, so the maximum a-posteriori fit has a closed form. For a
pose-free mesh ``x_n`` (residual ``r_n = x_n - mean``), identity ``a`` and expression ``e_n``::

    minimise  sum_n w_n |r_n - A a - B e_n|^2_W  +  |a / sd_id|^2  +  sum_n |e_n / sd_exp|^2

with ``W`` the vertex weights over ``noise_sd^2`` and ``w_n`` a frame weight. Eliminating ``e_n``
leaves the identity as ``a = (sum w_n G + L_id)^-1 A'S sum w_n r_n`` (``S`` the marginal precision
``W - W B M^-1 B' W``, ``G = A'S A``, ``M = B'W B + L_exp``), then ``e_n = M^-1 B'W (r_n - A a)``.

*Causal* fitting (:class:`SessionFitter`; the pipeline's provisional values while it streams):
frame ``n`` uses the identity of frames ``0..n`` (running sums), so it streams and resumes by
replay; with ``exact=True`` (the default) it does not depend on how frames are split into batches
(every product is an ``einsum`` row by row, bit for bit the same for any batch size). ``causal=False`` uses the identity of the whole session for every frame (the model
build's fit-back). What the analysis stores is :meth:`SessionFitter.refit` after the whole session
(the session pass): each frame against the identity of the session's other frames, with its own
deviation under the prior. A still is a session of one frame: its identity comes from the image
under the prior. Frame weights
``w_n = 1 / (1 + (rho_n / rho_0)^2)`` from the frame's own single-frame fit residual ``rho_n``
keep badly tracked frames (occlusion) from pulling the identity.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from facelens.core.face.morphable.model import MorphableModel

# Outer eye corners (mediapipe 33, 263): the unit of the residual.
EYE_CORNERS = (33, 263)

#: Fit residual (inter-ocular units) above which the session pass flags a frame ``POOR_FIT``: the
#: model, with the person's reference and the frame's own deviation, cannot explain the tracked
#: mesh, so its coefficients describe something other than a face. Three times the largest
#: residual of the 3,047 usable frames of the 26 corpus clips under the session rule (max 0.0067,
#: 99.9th percentile 0.0061; docs/morphable.md): mediapipe's meshes are face-shaped, so on the
#: shared media the flag does not fire; it catches meshes no face model explains (a broken track,
#: another topology's points), which would otherwise reach G as expressions.
FIT_RESIDUAL_LIMIT = 0.02


@dataclass
class SessionFit:
    """Fit of one session.

    Attributes
    ----------
    identity
        (K_id,) identity of the session (after its last frame).
    expression
        (N, K_exp) expression coefficients per frame (NaN where not usable).
    residual
        (N,) mean distance of the fitted to the tracked mesh points, in units of the frame's own
        inter-ocular distance (outer eye corners); NaN where not usable.
    identity_frames
        (N, K_id) the identity each frame was fitted with.
    """

    identity: np.ndarray
    expression: np.ndarray
    residual: np.ndarray
    identity_frames: np.ndarray


class _Operator:
    """Matrices of the closed-form fit, computed once per model."""

    def __init__(self, model: MorphableModel) -> None:
        w = np.repeat(model.vertex_weight.astype(np.float64), 3) / model.noise_sd**2  # (D,)
        a = model.identity_basis.reshape(model.n_identity, -1).astype(np.float64)  # (Ki, D)
        b = model.expression_basis.reshape(model.n_expression, -1).astype(np.float64)  # (Ke, D)
        m = (b * w) @ b.T + np.diag(1.0 / model.expression_sd.astype(np.float64) ** 2)
        minv = np.linalg.inv(m)
        self.exp_op = minv @ (b * w)  # (Ke, D): e = exp_op (r - A'a)
        aw = a * w
        self.id_op = aw - (aw @ b.T) @ self.exp_op  # (Ki, D) = A'S
        gram = self.id_op @ a.T  # G = A'S A
        gram = 0.5 * (gram + gram.T)
        sd = model.identity_sd.astype(np.float64)
        evals, vecs = np.linalg.eigh(sd[:, None] * gram * sd[None, :])
        self.white = np.ascontiguousarray(vecs.T * sd[None, :])  # (Ki, Ki): V' diag(sd)
        self.unwhite = np.ascontiguousarray(sd[:, None] * vecs)  # diag(sd) V
        self.evals = np.maximum(evals, 0.0)
        self.a, self.b = a, b
        self.mean = model.mean.reshape(-1).astype(np.float64)
        used = np.flatnonzero(model.vertex_weight > 0)
        # a prefix (mediapipe's 468 face points, not the iris) is a slice: no copies of the meshes
        self.used: slice | np.ndarray = slice(0, len(used)) if np.array_equal(used, np.arange(len(used))) else used
        self.rho0 = float(model.meta.get("fit_residual_scale", 0.05))

    def identity(self, count: np.ndarray, sums: np.ndarray, exact: bool = True) -> np.ndarray:
        """(N, Ki) identities from frame-weight counts (N,) and weighted sums of A'S r (N, Ki)."""
        z = _rows(self.white, sums, exact) / (count[:, None] * self.evals[None, :] + 1.0)
        return _rows(self.unwhite, z, exact)

    def expression(self, r: np.ndarray, ident: np.ndarray, exact: bool = True) -> np.ndarray:
        """(N, Ke) expressions of residuals (N, D) given identities (N, Ki)."""
        return _rows(self.exp_op, r - _combine(self.a, ident, exact), exact)

    def residual(self, x: np.ndarray, ident: np.ndarray, expr: np.ndarray, exact: bool = True) -> np.ndarray:
        """(N,) mean point distance of fit to data over the weighted vertices, in inter-ocular units."""
        fit = self.mean + _combine(self.a, ident, exact) + _combine(self.b, expr, exact)
        p = x.reshape(len(x), -1, 3)
        d = p[:, self.used] - fit.reshape(len(x), -1, 3)[:, self.used]
        err = np.sqrt(np.einsum("nvc,nvc->nv", d, d)).mean(axis=1)
        iod = np.linalg.norm(p[:, EYE_CORNERS[1]] - p[:, EYE_CORNERS[0]], axis=1)
        return err / iod


def _rows(op: np.ndarray, x: np.ndarray, exact: bool) -> np.ndarray:
    """(N, K) products of rows ``x`` (N, D) with ``op`` (K, D). ``exact``: row by row (``einsum``), the
    same bits for any batch size; otherwise one BLAS product (faster; bits may depend on the batch)."""
    return np.einsum("kd,nd->nk", op, x) if exact else x @ op.T


def _combine(op: np.ndarray, c: np.ndarray, exact: bool) -> np.ndarray:
    """(N, D) combinations ``c`` (N, K) of the rows of ``op`` (K, D); ``exact`` as in :func:`_rows`."""
    return np.einsum("kd,nk->nd", op, c) if exact else c @ op


_OPS: dict[int, tuple[MorphableModel, _Operator]] = {}


def _operator(model: MorphableModel) -> _Operator:
    hit = _OPS.get(id(model))
    if hit is None or hit[0] is not model:
        hit = (model, _Operator(model))
        _OPS[id(model)] = hit
    return hit[1]


class SessionFitter:
    """Causal fit of one session in time order, batch after batch (the pipeline's per-frame stage).

    State is two running sums; :meth:`update` on the frames of a session split into any batches
    gives exactly the result of one call on all of them.
    """

    def __init__(self, model: MorphableModel, exact: bool = True) -> None:
        self.model = model
        self.op = _operator(model)
        self.exact = exact  # False: BLAS products (the session pass, whose chunks are always the same)
        self.reset()

    def reset(self) -> None:
        """Start a new session."""
        self._count = 0.0
        self._sums = np.zeros(self.model.n_identity)

    @property
    def identity(self) -> np.ndarray:
        """(K_id,) identity from the frames seen so far (zeros before the first usable frame)."""
        return self.op.identity(np.array([self._count]), self._sums[None], self.exact)[0]

    def _terms(self, posefree: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, ...]:
        """(x, ok, r, y, w) of frames: coordinates, usable, residual from the mean, ``A'S r`` and the
        frame weight from the frame's own single-frame fit (a still's fit)."""
        op, ex = self.op, self.exact
        x = np.asarray(posefree, np.float64).reshape(len(posefree), -1)
        ok = np.asarray(usable, bool) & np.all(np.isfinite(x), axis=1)
        r = np.where(ok[:, None], x - op.mean, 0.0)
        y = _rows(op.id_op, r, ex)  # A'S r_n
        a1 = op.identity(np.ones(len(x)), y, ex)
        rho = op.residual(np.where(ok[:, None], x, op.mean), a1, op.expression(r, a1, ex), ex)
        w = np.where(ok, 1.0 / (1.0 + (np.nan_to_num(rho) / op.rho0) ** 2), 0.0)
        return x, ok, r, y, w

    def update(self, posefree: np.ndarray, usable: np.ndarray) -> SessionFit:
        """Fit the next frames: ``posefree`` (B, 478, 3) template-frame meshes, ``usable`` (B,) bool."""
        op, ex = self.op, self.exact
        x, ok, r, y, w = self._terms(posefree, usable)
        count = np.cumsum(np.concatenate([[self._count], w]))[1:]
        sums = np.cumsum(np.concatenate([self._sums[None], w[:, None] * y]), axis=0)[1:]
        ident = op.identity(count, sums, ex)
        expr = op.expression(r, ident, ex)
        res = op.residual(np.where(ok[:, None], x, op.mean), ident, expr, ex)
        if len(x):
            self._count, self._sums = float(count[-1]), sums[-1].copy()
        expr[~ok] = np.nan
        res[~ok] = np.nan
        return SessionFit(identity=self.identity, expression=expr, residual=res, identity_frames=ident)

    def accumulate(self, posefree: np.ndarray, usable: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Add frames to the session's identity sums without fitting them (the session pass's first
        pass); returns the frames' ``(A'S r, weight)`` for :meth:`refit`."""
        _, _, _, y, w = self._terms(posefree, usable)
        if len(w):
            self._count = float(np.cumsum(np.concatenate([[self._count], w]))[-1])
            self._sums = np.cumsum(np.concatenate([self._sums[None], w[:, None] * y]), axis=0)[-1].copy()
        return y, w

    def refit(self, posefree: np.ndarray, usable: np.ndarray, residual: bool = True,
              terms: tuple[np.ndarray, np.ndarray] | None = None) -> SessionFit:
        """Fit frames that :meth:`update` has seen against the person's reference; the state stays.

        A frame's identity is ``a_n = a_(-n) + d_n``: ``a_(-n)`` is the identity of the session's
        *other* frames (the running sums less this frame's share), ``d_n`` the fit of the frame's
        remaining difference under the model's identity prior, with the frame's own weight. Once
        :meth:`update` has seen the whole session, a frame's coefficients do not depend on the order
        of the frames; a session of one frame (a still) gets exactly its :meth:`update` fit, the fit
        G was trained on; the session's identity is the person's reference, and a frame can still
        differ from it the way a still differs from the average face (so that an expressive
        session's average expression is not taken for the person's neutral face).
        ``residual=False`` skips the fit residual (NaN), which costs more than the coefficients;
        ``terms`` are the frames' ``(A'S r, weight)`` from :meth:`accumulate` (not computed again).
        """
        op, ex = self.op, self.exact
        if terms is None:
            x, ok, r, y, w = self._terms(posefree, usable)
        else:
            x = np.asarray(posefree, np.float64).reshape(len(posefree), -1)
            ok = np.asarray(usable, bool) & np.all(np.isfinite(x), axis=1)
            r = np.where(ok[:, None], x - op.mean, 0.0)
            y, w = terms
        others = op.identity(np.maximum(self._count - w, 0.0), self._sums[None] - w[:, None] * y, ex)
        y2 = _rows(op.id_op, np.where(ok[:, None], r - _combine(op.a, others, ex), 0.0), ex)
        ident = others + op.identity(w, w[:, None] * y2, ex)
        expr = op.expression(r, ident, ex)
        res = (op.residual(np.where(ok[:, None], x, op.mean), ident, expr, ex) if residual
               else np.full(len(x), np.nan))
        expr[~ok], res[~ok] = np.nan, np.nan
        return SessionFit(identity=self.identity, expression=expr, residual=res, identity_frames=ident)


def fit_session(posefree_landmarks: np.ndarray, usable: np.ndarray, model: MorphableModel | None = None,
                causal: bool = True) -> SessionFit:
    """Fit a whole session of pose-free meshes (N, 478, 3) with ``usable`` (N,) frames.

    ``causal=True`` (default) gives exactly what the pipeline stores; ``causal=False`` fits every
    frame with the identity of the whole session.
    """
    if model is None:
        from facelens.core.face.morphable.model import load_default

        model = load_default()
    fitter = SessionFitter(model)
    fit = fitter.update(posefree_landmarks, usable)
    if causal:
        return fit
    op = fitter.op
    x = np.asarray(posefree_landmarks, np.float64).reshape(len(fit.residual), -1)
    ok = np.asarray(usable, bool) & np.all(np.isfinite(x), axis=1)
    ident = np.repeat(fit.identity[None], len(x), axis=0)
    r = np.where(ok[:, None], x - op.mean, 0.0)
    expr = op.expression(r, ident)
    res = op.residual(np.where(ok[:, None], x, op.mean), ident, expr)
    expr[~ok], res[~ok] = np.nan, np.nan
    return SessionFit(identity=fit.identity, expression=expr, residual=res, identity_frames=ident)
