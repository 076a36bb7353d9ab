"""The session pass: once every frame is written, the values that need the whole session.

Streaming gives each frame what the frames before it allow. Two things are better known at the
end, and are rewritten in the (still partial) results file before it is marked complete:

* the morphable fit (``coef_exp``, ``coef_id``, ``fit_residual``): every frame against the identity
  of the session's other frames (:meth:`~facelens.core.face.morphable.SessionFitter.refit`), so
  the coefficients do not depend on the order of the session's segments;
* with the G estimator, ``valence``, ``arousal`` and ``emotions``:
  :func:`facelens.core.affect.g_session.g_session` (mirror average, fresh state after a pause);
* ``quality``: ``POOR_FIT`` on frames whose fit residual exceeds
  :data:`~facelens.core.face.morphable.fit.FIT_RESIDUAL_LIMIT` (their affect values are cleared).

Everything is computed from stored columns (landmarks, pose, quality, time, the raw appearance
posterior), in chunks, so a resumed analysis ends with the same bits, and a cancelled pass
leaves a partial file that a resume finishes. The session's identity (the person's reference face
under the model) is stored as the root attribute ``session_identity``.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from facelens.core.analysis.recon_stage import ReconStage, fit_inputs
from facelens.core.common.types import Progress, Quality
from facelens.core.results import ResultsWriter

CHUNK = 512  # frames per read: 512 x 478 x 3 doubles and their temporaries stay near 40 MB
_FIT_INPUTS = ("landmarks", "rotation", "translation", "scale", "quality")


def needed(recon: Any) -> bool:
    """Whether the run's reconstruction has a session pass (the morphable fit has; AsmV2L not)."""
    return isinstance(recon, ReconStage)


def run_session_pass(writer: ResultsWriter, recon: ReconStage, g_estimator: Any = None,
                     cancel: Callable[[], None] | None = None) -> Iterator[Progress]:
    """Rewrite the session-wide columns of ``writer``'s frames (one progress, ``finalising``, first)."""
    from facelens.core.affect.g_session import g_session

    n = writer.n_done

    def chunks() -> Iterable[tuple[np.ndarray, np.ndarray]]:
        for a in range(0, n, CHUNK):
            yield fit_inputs({k: writer.column(k, a, a + CHUNK) for k in _FIT_INPUTS})
            if cancel is not None:
                cancel()

    time_s = writer.column("time_s", 0, n)
    g = None if g_estimator is None else g_estimator.model
    appearance = writer.column("emotions_appearance", 0, n) if g is not None else None
    yield Progress(done=n, total=n, rate=0.0, eta_s=float("nan"), message="finalising")
    with threadpool_limits(1, "blas"):  # small products: one BLAS thread is faster and uses half the CPU
        res = g_session(chunks, time_s, appearance, recon.model, g, device=recon.device)
    # the person's reference face under the model (the 3D view's neutral reference)
    writer.set_meta({"session_identity": [round(float(v), 6) for v in res.identity]})
    for a in range(0, n, CHUNK):
        b = min(a + CHUNK, n)
        writer.rewrite("coef_exp", a, res.expression[a:b])
        writer.rewrite("coef_id", a, res.identity_frames[a:b])
        writer.rewrite("fit_residual", a, res.residual[a:b])
        if res.valence_arousal is not None and res.probabilities is not None:  # G ran
            va, probs = res.valence_arousal[a:b], g_estimator.to_results_order(res.probabilities[a:b])
            writer.rewrite("valence", a, va[:, 0])
            writer.rewrite("arousal", a, va[:, 1])
            writer.rewrite("emotions", a, probs)
        if res.poor_fit[a:b].any():
            _flag_poor_fit(writer, a, res.poor_fit[a:b])


def _flag_poor_fit(writer: ResultsWriter, a: int, poor: np.ndarray) -> None:
    """``POOR_FIT`` on the flagged frames of rows ``a..``; like every unusable frame they keep no
    affect values (the streaming estimator's, with the circumplex one, included)."""
    b = a + len(poor)
    quality = writer.column("quality", a, b).copy()
    quality[poor] = int(Quality.POOR_FIT)
    writer.rewrite("quality", a, quality)
    for name in ("valence", "arousal", "emotions", "emotions_appearance"):
        if writer.has_column(name):
            values = writer.column(name, a, b).astype(np.float64)
            values[poor] = np.nan
            writer.rewrite(name, a, values)
