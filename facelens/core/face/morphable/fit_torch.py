"""The morphable fit in torch, on the analysis device (the GPU when the analysis runs on one).

:class:`TorchSessionFitter` has :class:`~facelens.core.face.morphable.fit.SessionFitter`'s interface
and rule (the closed form of :mod:`.fit`, with the BLAS products of ``exact=False``): the same
matrices, computed once in numpy float64 and moved to the device, so both backends give the same
coefficients up to rounding (float64 on either: ``tests/test_fit_torch.py`` holds them within
1e-9). Meshes come in and coefficients go out as numpy arrays; the running identity sums and the
session pass's per-frame terms stay on the device. Which backend an analysis uses is decided by
:func:`facelens.core.common.devices.array_backend_device` (torch on CUDA, numpy on the CPU).
"""
from __future__ import annotations

import numpy as np
import torch

from facelens.core.face.morphable.fit import EYE_CORNERS, SessionFit, _operator
from facelens.core.face.morphable.model import MorphableModel


class TorchSessionFitter:
    """Causal fit of one session in time order on a torch device (see :class:`.fit.SessionFitter`)."""

    exact = False  # BLAS products; a batch's last bits may depend on how a session is split into blocks

    def __init__(self, model: MorphableModel, device: str = "cpu", dtype: torch.dtype = torch.float64) -> None:
        self.model = model
        self.device = torch.device(device)
        self.dtype = dtype
        op = _operator(model)

        def put(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(a), dtype=dtype, device=self.device)

        self._exp_op_t = put(op.exp_op.T)  # (D, Ke)
        self._id_op_t = put(op.id_op.T)  # (D, Ki)
        self._white_t, self._unwhite_t = put(op.white.T), put(op.unwhite.T)  # (Ki, Ki)
        self._evals = put(op.evals)
        self._a, self._b = put(op.a), put(op.b)  # (Ki, D), (Ke, D)
        self._mean = put(op.mean)  # (D,)
        used = op.used
        self._used: slice | torch.Tensor = (used if isinstance(used, slice)
                                            else torch.as_tensor(used, dtype=torch.long, device=self.device))
        self._rho0 = op.rho0
        self.reset()

    def reset(self) -> None:
        """Start a new session."""
        self._count = torch.zeros((), dtype=self.dtype, device=self.device)
        self._sums = torch.zeros(self.model.n_identity, dtype=self.dtype, device=self.device)

    # -- the closed form (fit.py's _Operator, on tensors) --------------------------------------
    def _identity(self, count: torch.Tensor, sums: torch.Tensor) -> torch.Tensor:
        z = (sums @ self._white_t) / (count[:, None] * self._evals[None, :] + 1.0)
        return z @ self._unwhite_t

    def _expression(self, r: torch.Tensor, ident: torch.Tensor) -> torch.Tensor:
        return (r - ident @ self._a) @ self._exp_op_t

    def _residual(self, x: torch.Tensor, ident: torch.Tensor, expr: torch.Tensor) -> torch.Tensor:
        n = len(x)
        fit = (self._mean + ident @ self._a + expr @ self._b).reshape(n, -1, 3)
        p = x.reshape(n, -1, 3)
        err = torch.linalg.vector_norm(p[:, self._used] - fit[:, self._used], dim=2).mean(dim=1)
        iod = torch.linalg.vector_norm(p[:, EYE_CORNERS[1]] - p[:, EYE_CORNERS[0]], dim=1)
        return err / iod

    # -- the fitter's interface ------------------------------------------------------------------
    @property
    def identity(self) -> np.ndarray:
        """(K_id,) identity from the frames seen so far (zeros before the first usable frame)."""
        return self._identity(self._count[None], self._sums[None])[0].cpu().numpy()

    def _inputs(self, posefree: np.ndarray, usable: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(x, ok, r): coordinates on the device, usable frames, residual from the mean (0 where not usable)."""
        x = torch.as_tensor(np.asarray(posefree, np.float64).reshape(len(posefree), -1), dtype=self.dtype,
                            device=self.device)
        ok = torch.as_tensor(np.asarray(usable, bool), device=self.device) & torch.isfinite(x).all(dim=1)
        r = torch.where(ok[:, None], x - self._mean, 0.0)
        return x, ok, r

    def _weights(self, x: torch.Tensor, ok: torch.Tensor, r: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(A'S r, frame weight from the frame's own single-frame fit), as ``SessionFitter._terms``."""
        y = r @ self._id_op_t
        a1 = self._identity(torch.ones(len(x), dtype=self.dtype, device=self.device), y)
        rho = self._residual(torch.where(ok[:, None], x, self._mean), a1, self._expression(r, a1))
        w = torch.where(ok, 1.0 / (1.0 + (torch.nan_to_num(rho) / self._rho0) ** 2), 0.0)
        return y, w

    def _advance(self, y: torch.Tensor, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Running (count, sums) after each frame; the state moves to the last frame's."""
        count = self._count + torch.cumsum(w, dim=0)
        sums = self._sums[None] + torch.cumsum(w[:, None] * y, dim=0)
        if len(w):
            self._count, self._sums = count[-1].clone(), sums[-1].clone()
        return count, sums

    def _out(self, x: torch.Tensor, ok: torch.Tensor, r: torch.Tensor, ident: torch.Tensor,
             residual: bool = True) -> SessionFit:
        expr = self._expression(r, ident)
        res = (self._residual(torch.where(ok[:, None], x, self._mean), ident, expr) if residual
               else torch.full((len(x),), float("nan"), dtype=self.dtype, device=self.device))
        expr[~ok], res[~ok] = float("nan"), float("nan")
        return SessionFit(identity=self.identity, expression=expr.cpu().numpy(), residual=res.cpu().numpy(),
                          identity_frames=ident.cpu().numpy())

    def update(self, posefree: np.ndarray, usable: np.ndarray) -> SessionFit:
        """Fit the next frames: ``posefree`` (B, 478, 3) template-frame meshes, ``usable`` (B,) bool."""
        x, ok, r = self._inputs(posefree, usable)
        count, sums = self._advance(*self._weights(x, ok, r))
        return self._out(x, ok, r, self._identity(count, sums))

    def accumulate(self, posefree: np.ndarray, usable: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Add frames to the identity sums without fitting them; the frames' ``(A'S r, weight)``
        (device tensors) for :meth:`refit`."""
        y, w = self._weights(*self._inputs(posefree, usable))
        self._advance(y, w)
        return y, w

    def refit(self, posefree: np.ndarray, usable: np.ndarray, residual: bool = True,
              terms: tuple[torch.Tensor, torch.Tensor] | None = None) -> SessionFit:
        """Fit frames against the person's reference (:meth:`.fit.SessionFitter.refit`'s rule)."""
        x, ok, r = self._inputs(posefree, usable)
        y, w = self._weights(x, ok, r) if terms is None else terms
        others = self._identity(torch.clamp(self._count - w, min=0.0), self._sums[None] - w[:, None] * y)
        y2 = torch.where(ok[:, None], r - others @ self._a, 0.0) @ self._id_op_t
        ident = others + self._identity(w, w[:, None] * y2)
        return self._out(x, ok, r, ident, residual)
