"""Which implementation of the morphable fit an analysis uses: numpy (:mod:`.fit`) or torch
(:mod:`.fit_torch`, imported only when asked for). The rule for the device:
:func:`facelens.core.common.devices.array_backend_device`."""
from __future__ import annotations

from typing import TYPE_CHECKING

from facelens.core.face.morphable.fit import SessionFitter
from facelens.core.face.morphable.model import MorphableModel

if TYPE_CHECKING:
    from facelens.core.face.morphable.fit_torch import TorchSessionFitter


def make_fitter(model: MorphableModel, device: str | None = None,
                exact: bool = True) -> SessionFitter | TorchSessionFitter:
    """The session fitter: numpy (``device`` None; ``exact`` as in :class:`.fit.SessionFitter`) or
    torch on ``device`` (:class:`.fit_torch.TorchSessionFitter`, always BLAS products)."""
    if device is None:
        return SessionFitter(model, exact=exact)
    from facelens.core.face.morphable.fit_torch import TorchSessionFitter

    return TorchSessionFitter(model, device=device)
