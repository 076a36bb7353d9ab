"""AsmV2L as the analysis's reconstruction (``--reconstruction asmv2l[:CHECKPOINT]``).

The drop-in alternative to :class:`facelens.core.analysis.recon_stage.ReconStage`: the same columns
(``coef_exp``, ``coef_id``, ``fit_residual``) and methods, but the coefficients come from the network
instead of the closed-form fit. Two halves, because the network needs the pixels and the ordered sink
no longer has them:

* :func:`block_outputs`, in the per-frame step (where the block's RGB frames still exist, in whichever
  chunk thread runs it): each usable frame is cropped around its tracked mesh as in training
  (:func:`facelens.core.face.asmv2l.crops.crop_frame`) and the block's crops go through the network in
  one batch on the analysis device (CUDA when present): :func:`block_network`, whose weights file and
  device are resolved once, not per block. It returns private columns (``PRIVATE``), a few numbers
  per frame, so waiting blocks hold no pixels;
* :meth:`AsmV2LStage.columns`, in the sink (time order): takes the private columns out (they are never
  written) and turns the per-frame identity into the causal running mean.

``warm_up`` (resume) restores the mean from the stored ``coef_id`` of the last usable frame and the
count of usable frames: it continues to float32 rounding (the fit's replay is bit-exact; this is not).
"""
from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from facelens.core.face.asmv2l.crops import crop_frame, resize_crops
from facelens.core.face.asmv2l.inference import AsmV2LReconstructor, default_checkpoint, parse_reconstruction

PRIVATE = ("_asmv2l_id", "_asmv2l_exp", "_asmv2l_residual")
_NETS: dict[tuple[str, str], AsmV2LReconstructor] = {}
_LOCK = threading.Lock()


def checkpoint_of(spec: str) -> Path | None:
    """The weights file of an ``asmv2l[:CHECKPOINT]`` spec (the registry's default when none); None for ``fit``."""
    kind, path = parse_reconstruction(spec)
    if kind == "fit":
        return None
    return path if path is not None else default_checkpoint()


def reconstructor(checkpoint: Path, device: str) -> AsmV2LReconstructor:
    """One loaded network per (file, device) per process, shared by the chunk threads."""
    key = (str(Path(checkpoint).resolve()), device)
    with _LOCK:
        if key not in _NETS:
            _NETS[key] = AsmV2LReconstructor(Path(checkpoint), device=device)
        return _NETS[key]


@functools.lru_cache(maxsize=16)
def block_network(spec: str, device: str) -> AsmV2LReconstructor:
    """The network of an analysis's ``--reconstruction`` spec on its ``--device``, resolved once (the
    weights file verified, ``auto`` decided) and then reused by every block of every engine."""
    from facelens.core.common.devices import resolve_device

    path = checkpoint_of(spec)
    if path is None:
        raise ValueError("the morphable fit needs no network")
    return reconstructor(path, resolve_device(device))


def block_outputs(rgbs: list[np.ndarray], cols: dict[str, np.ndarray], rec: AsmV2LReconstructor
                  ) -> dict[str, np.ndarray]:
    """The private columns of one block from its frames and geometry columns (``landmarks``,
    ``rotation``, ``translation``, ``scale``, ``quality``), through the network ``rec``."""
    from facelens.core.common.types import is_usable
    from facelens.core.face.geometry import posefree_batch

    lm = np.asarray(cols["landmarks"], np.float64)
    n = len(lm)
    with np.errstate(invalid="ignore", divide="ignore"):
        pf = posefree_batch(lm, cols["rotation"], cols["translation"], cols["scale"])
    ok = np.asarray(is_usable(np.asarray(cols["quality"])), bool) & np.all(np.isfinite(pf), axis=(1, 2))
    k_exp, k_id = int(rec.net.exp_sd.shape[0]), int(rec.net.id_sd.shape[0])
    ids, expr, res = np.full((n, k_id), np.nan), np.full((n, k_exp), np.nan), np.full(n, np.nan)
    rows = np.flatnonzero(ok)
    if len(rows):
        crops = np.stack([crop_frame(rgbs[i], lm[i])[0] for i in rows])
        p = rec.predict_crops(resize_crops(crops, rec.size).permute(0, 2, 3, 1).numpy())
        ids[rows] = p["id"]
        expr[rows] = p["exp"] * rec.net.exp_sd.cpu().numpy()
        iod = np.linalg.norm(pf[rows, 263] - pf[rows, 33], axis=1)
        res[rows] = np.linalg.norm(p["shape"][:, :468] - pf[rows, :468], axis=2).mean(1) / iod
    return dict(zip(PRIVATE, (ids, expr, res)))


class AsmV2LStage:
    """The sink half (module notes); one instance per session."""

    def __init__(self, checkpoint: Path | None = None, device: str = "cpu") -> None:
        self.checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
        self.device = device
        self.rec = reconstructor(self.checkpoint, device)
        self.sd_id = self.rec.net.id_sd.cpu().numpy().astype(np.float64)
        self.reset()

    @property
    def coef_sizes(self) -> tuple[int, int]:
        """(K_exp, K_id) for the results writer."""
        return int(self.rec.net.exp_sd.shape[0]), int(self.rec.net.id_sd.shape[0])

    def reset(self) -> None:
        self._n, self._sum = 0, np.zeros(len(self.sd_id))

    @property
    def identity(self) -> np.ndarray:
        """(K_id,) cm: the mean of the per-frame identities so far."""
        return self._sum / max(self._n, 1) * self.sd_id

    def columns(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The stored coefficient columns of one block (removes the private ones from ``cols``)."""
        ids, expr, res = (cols.pop(k) for k in PRIVATE)
        out = np.full(ids.shape, np.nan)
        for i in np.flatnonzero(np.all(np.isfinite(ids), axis=1)):
            self._sum = self._sum + ids[i]
            self._n += 1
            out[i] = self._sum / self._n * self.sd_id
        return {"coef_exp": expr.astype(np.float32), "coef_id": out.astype(np.float32),
                "fit_residual": res.astype(np.float32)}

    def warm_up(self, partial: Path, n: int) -> None:
        """Continue the identity mean of the first ``n`` stored frames (module notes)."""
        from facelens.core.results.reader import stored_frames

        self.reset()
        if n == 0:
            return
        ids = np.asarray(stored_frames(partial, n, ("coef_id",))["coef_id"], np.float64)
        ok = np.all(np.isfinite(ids), axis=1)
        if ok.any():
            self._n = int(ok.sum())
            self._sum = ids[np.flatnonzero(ok)[-1]] / self.sd_id * self._n

    def card(self) -> dict:
        """The model card entry for the results file (which reconstruction produced the coefficients)."""
        from facelens.core.common.hashing import sha256_file

        c = self.rec.card
        return {"id": c.get("id", "asmv2l"), "task": "per-frame morphable-model coefficients from the AsmV2L "
                "network (no text at inference: learned default embeddings)", "version": f"{c.get('epochs', '')} epochs",
                "file": self.checkpoint.name, "sha256": sha256_file(self.checkpoint), "device": self.device,
                "training_data": c.get("training_data", []), "metrics": c.get("metrics_held_out", {}),
                "notes": "docs/asmv2l.md"}


def reconstruction_stage(spec: str, device: str = "cpu") -> object:
    """``fit`` -> the morphable fit's ``ReconStage``; ``asmv2l[:CHECKPOINT]`` -> :class:`AsmV2LStage`."""
    path = checkpoint_of(spec)
    if path is None:
        from facelens.core.analysis.recon_stage import ReconStage

        return ReconStage()
    from facelens.core.analysis.contract import PipelineError
    from facelens.core.face.asmv2l.checkpoint import CheckpointError

    try:
        return AsmV2LStage(path, device=device)
    except CheckpointError as exc:
        raise PipelineError(f"--reconstruction {spec}: {exc}") from None
