"""G over a whole session: the one rule by which stored G valence/arousal are computed.

The streaming pass gives provisional values (causal identity, one mesh). Once every frame of a
session is known, :func:`g_session` recomputes them from the stored meshes and appearance
posterior, and the analysis stores these (``core.analysis.session_pass``); the validity harness
and ``eval-affect`` score the same function. Three rules make the result independent of things
that say nothing about the person's affect:

* **The person's reference, from the whole session.** Every frame is fitted against the identity
  of the session's other frames, with its own deviation under the model's prior
  (:meth:`SessionFitter.refit`), so a frame's expression coefficients do not depend on which
  segments came before it (with the causal identity, a protocol's first segment is partly
  absorbed into the identity), and a still gets exactly the fit G was trained on.
* **Mirror average.** G runs on each mesh and on its mirror image (:mod:`.morphable.mirror`, with
  its own session identity) and the two outputs are averaged: an expression and its mirror image
  give the same valence/arousal. The appearance posterior is the same for both.
* **Fresh state after a gap.** G's LSTM state starts again when more than :data:`GAP_S` seconds
  pass between two usable frames (a pause, a cut, frames without a face), as the valence/arousal
  smoother does; the state never carries one segment's affect across a pause into the next.

A frame whose fit residual exceeds :data:`~facelens.core.face.morphable.fit.FIT_RESIDUAL_LIMIT`
(a mesh the model cannot explain) gets no coefficients and no G values (``poor_fit``; the session
pass flags it ``POOR_FIT``).

G sees the raw FER2013 posterior (what it was trained on: on a still the fused posterior is the
FER2013 one unchanged), never the fused one, whose neutral baseline depends on the session's order.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from itertools import pairwise
from typing import TYPE_CHECKING, Any

import numpy as np

from facelens.core.affect.g_runtime import GModel, GRunner
from facelens.core.affect.va import CircumplexVA
from facelens.core.face.morphable import MorphableModel, make_fitter
from facelens.core.face.morphable.fit import FIT_RESIDUAL_LIMIT
from facelens.core.face.morphable.mirror import mirror_meshes

if TYPE_CHECKING:
    from facelens.core.affect.g_torch import TorchGRunner

#: Seconds between two usable frames after which G starts from a fresh state (the smoother's gap).
GAP_S = float(CircumplexVA.gap_s)

#: Chunks of (pose-free meshes (B, 478, 3), usable (B,)) in time order; called once per pass.
MeshChunks = Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]]


@dataclass
class GSession:
    """Session-wide fit (``expression``, ``identity``, ``residual``) and, with G, its outputs."""

    expression: np.ndarray  # (N, K_exp), NaN where not usable
    identity: np.ndarray  # (K_id,) the session's identity (the person's reference)
    identity_frames: np.ndarray  # (N, K_id) each frame's identity (reference + its own deviation)
    residual: np.ndarray  # (N,)
    usable: np.ndarray  # (N,) frames with a fit
    poor_fit: np.ndarray  # (N,) frames whose fit residual exceeds FIT_RESIDUAL_LIMIT (no values)
    valence_arousal: np.ndarray | None = None  # (N, 2), NaN where G had no input
    probabilities: np.ndarray | None = None  # (N, 7) in G_LABELS order


def make_runner(model: GModel, n_seq: int = 1, device: str | None = None) -> GRunner | TorchGRunner:
    """G's runner for an analysis: numpy (``device`` None) or torch on ``device``
    (:class:`.g_torch.TorchGRunner`; torch is imported only then). The rule for ``device``:
    :func:`facelens.core.common.devices.array_backend_device`."""
    if device is None:
        return GRunner(model, n_seq=n_seq)
    from facelens.core.affect.g_torch import TorchGRunner

    return TorchGRunner(model, n_seq=n_seq, device=device)


def reset_points(time_s: np.ndarray, ok: np.ndarray, last_t: float = float("nan")) -> np.ndarray:
    """Indices of usable frames that follow the previous usable frame (or ``last_t``) by more than GAP_S."""
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return idx
    prev = np.concatenate([[last_t], np.asarray(time_s, np.float64)[idx[:-1]]])
    gap = np.asarray(time_s, np.float64)[idx] - prev
    return idx[np.isfinite(gap) & (gap > GAP_S)]


def step_with_resets(runner: GRunner | TorchGRunner, x: np.ndarray, ok: np.ndarray, time_s: np.ndarray,
                     last_t: float) -> tuple[np.ndarray, np.ndarray, float]:
    """``runner.step`` over a block, resetting its state at every :func:`reset_points` frame;
    returns (valence/arousal, probabilities, time of the block's last usable frame or ``last_t``).
    With a runner of several sequences, ``x`` is (n_seq, B, K) and the outputs (n_seq, B, .)."""
    n = len(ok)
    lead = (runner.n_seq,) if runner.n_seq > 1 else ()
    cuts = [0, *reset_points(time_s, ok, last_t).tolist(), n]
    va, probs = np.full(lead + (n, 2), np.nan), np.full(lead + (n, 7), np.nan)
    for i, (a, b) in enumerate(pairwise(cuts)):
        if i > 0:
            runner.reset()
        if b > a:
            va[..., a:b, :], probs[..., a:b, :] = runner.step(x[..., a:b, :], ok[a:b])
    used = np.flatnonzero(ok)
    return va, probs, float(time_s[used[-1]]) if used.size else last_t


def g_session(chunks: MeshChunks, time_s: np.ndarray, appearance: np.ndarray | None,
              morph: MorphableModel, g: GModel | None = None, device: str | None = None) -> GSession:
    """The session-wide morphable fit and, when ``g`` is given, G's valence/arousal/probabilities.

    ``appearance`` (N, 7) is the raw FER2013 posterior in the results file's emotion order (needed
    when G's card says ``coef+appearance``). ``device``: None for the numpy fit and G, else the torch
    device they run on (:func:`facelens.core.common.devices.array_backend_device`).

    The mesh and its mirror image are fitted on two worker threads (one per fitter, so each
    fitter sees its chunks in order: the same bits as one thread), while the calling thread reads
    the next chunk or steps G through the previous one. At most two chunks are in flight.
    """
    time_s = np.asarray(time_s, np.float64)
    n = len(time_s)
    # BLAS products: the session pass reads the same chunks whatever happened before (resume)
    fits = [make_fitter(morph, device, exact=False) for _ in range(2 if g is not None else 1)]
    with ThreadPoolExecutor(1) as own_lane, ThreadPoolExecutor(1) as mirror_lane:
        def both(fn_own: Callable[[], Any], fn_mirror: Callable[[], Any]) -> tuple[Future, Future | None]:
            return own_lane.submit(fn_own), (mirror_lane.submit(fn_mirror) if g is not None else None)

        # pass 1: the session's identity (and the mirror images'); per chunk (A'S r, weight), kept for pass 2
        jobs: list[tuple[Future, Future | None]] = []
        for c, (pf, ok) in enumerate(chunks()):
            if c >= 2:
                _wait(jobs[c - 2])
            jobs.append(both(partial(fits[0].accumulate, pf, ok),
                             partial(lambda m, u: fits[1].accumulate(mirror_meshes(m), u), pf, ok)))
        terms = [[_result(j[0]) for j in jobs], [_result(j[1]) for j in jobs]]
        out = GSession(np.full((n, morph.n_expression), np.nan), fits[0].identity,
                       np.full((n, morph.n_identity), np.nan), np.full(n, np.nan), np.zeros(n, bool),
                       np.zeros(n, bool))
        second = _SecondPass(out, g, appearance, time_s, device)
        # pass 2 reads the meshes again (keeping a long session's meshes would cost hundreds of MB):
        # every frame against the person's reference (threads), then G in time order (this thread)
        start, waiting = 0, None
        for c, (pf, ok) in enumerate(chunks()):
            job = both(partial(fits[0].refit, pf, ok, terms=terms[0][c]),
                       partial(lambda m, u, t: fits[1].refit(mirror_meshes(m), u, residual=False, terms=t).expression,
                               pf, ok, terms[1][c]))
            if waiting is not None:
                second.store(*waiting)
            waiting, start = (start, ok, job), start + len(pf)
        if waiting is not None:
            second.store(*waiting)
    return out


def _result(f: Future | None) -> Any:
    return None if f is None else f.result()


def _wait(job: tuple[Future, Future | None]) -> None:
    for f in job:
        _result(f)


class _SecondPass:
    """Stores pass 2's fits of one chunk after another and steps G through them in time order."""

    def __init__(self, out: GSession, g: GModel | None, appearance: np.ndarray | None, time_s: np.ndarray,
                 device: str | None = None) -> None:
        self.out, self.g, self.appearance, self.time_s = out, g, appearance, time_s
        self.last = float("nan")
        if g is not None:
            n = len(time_s)
            out.valence_arousal, out.probabilities = np.full((n, 2), np.nan), np.full((n, 7), np.nan)
            self.runner = make_runner(g, n_seq=2, device=device)  # the session and its mirror image, stepped together
            self.with_app = g.card.get("inputs", "coef+appearance") == "coef+appearance"

    def store(self, start: int, ok: np.ndarray, job: tuple[Future, Future | None]) -> None:
        out, own = self.out, _result(job[0])
        stop = start + len(ok)
        poor = np.nan_to_num(own.residual) > FIT_RESIDUAL_LIMIT  # no coefficients, no G input
        own.expression[poor] = np.nan
        out.expression[start:stop], out.residual[start:stop] = own.expression, own.residual
        out.usable[start:stop] = np.all(np.isfinite(own.expression), axis=1)
        out.poor_fit[start:stop] = poor
        out.identity_frames[start:stop] = np.where(out.usable[start:stop, None], own.identity_frames, np.nan)
        if self.g is None:
            return
        xs = np.stack([own.expression, _result(job[1])])  # (2, B, K_exp)
        if self.with_app:
            app = np.asarray(self.appearance[start:stop], np.float64)  # type: ignore[index]
            xs = np.concatenate([xs, np.stack([app, app])], axis=2)
        good = np.asarray(ok, bool) & np.all(np.isfinite(xs), axis=(0, 2))
        va, p, self.last = step_with_resets(self.runner, xs, good, self.time_s[start:stop], self.last)
        out.valence_arousal[start:stop] = 0.5 * (va[0] + va[1])  # type: ignore[index]
        out.probabilities[start:stop] = 0.5 * (p[0] + p[1])  # type: ignore[index]


def in_memory(posefree: np.ndarray, usable: np.ndarray, size: int = 4096) -> MeshChunks:
    """:data:`MeshChunks` over arrays already in memory."""
    def chunks() -> Iterable[tuple[np.ndarray, np.ndarray]]:
        for a in range(0, len(posefree), size):
            yield posefree[a:a + size], usable[a:a + size]

    return chunks
