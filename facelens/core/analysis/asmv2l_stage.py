"""AsmV2L as the analysis's reconstruction (``--reconstruction asmv2l[:CHECKPOINT]``).

The drop-in alternative to :class:`facelens.core.analysis.recon_stage.ReconStage`: the same columns
(``coef_exp``, ``coef_id``, ``fit_residual``), the same methods, but the coefficients come from the
network instead of the closed-form fit. The network needs the pixels, which the ordered sink no longer
has, so the per-frame step puts each usable frame's 224x224 crop into the block as ``CROPS_KEY``
(:func:`block_crops`, the crop of training, :func:`facelens.core.training.asmv2l.data.crop_frame`);
:meth:`AsmV2LStage.columns` takes it out (it is never written), area-resizes to the network's input
and runs the block in one batch on the stage's device (CUDA when present).

Identity is the causal running mean of the network's per-frame identity; ``warm_up`` (resume) restores
it from the stored ``coef_id`` of the last usable frame and the count of usable frames, which continues
the mean to float32 rounding (the fit's replay is bit-exact; this one is not).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.core.face.asmv2l.crops import CROP_SIZE, crop_frame, resize_crops
from facelens.core.face.asmv2l.inference import AsmV2LReconstructor, default_checkpoint, parse_reconstruction

CROPS_KEY = "_asmv2l_crops"


def block_crops(rgbs: list[np.ndarray], landmarks: np.ndarray, quality: np.ndarray) -> np.ndarray:
    """(N,224,224,3) uint8 crops of a block's usable frames (zeros elsewhere)."""
    from facelens.core.common.types import is_usable

    out = np.zeros((len(rgbs), CROP_SIZE, CROP_SIZE, 3), np.uint8)
    ok = np.asarray(is_usable(np.asarray(quality)), bool)
    for i in np.flatnonzero(ok):
        if np.all(np.isfinite(landmarks[i])):
            out[i] = crop_frame(rgbs[i], np.asarray(landmarks[i], np.float64))[0]
    return out


class AsmV2LStage:
    """Per-block network coefficients in time order (one instance per session)."""

    def __init__(self, checkpoint: Path | None = None, device: str | None = None) -> None:
        self.checkpoint = Path(checkpoint) if checkpoint is not None else default_checkpoint()
        self.rec = AsmV2LReconstructor(self.checkpoint, device=device)

    @property
    def coef_sizes(self) -> tuple[int, int]:
        """(K_exp, K_id) for the results writer."""
        return int(self.rec.net.exp_sd.shape[0]), int(self.rec.net.id_sd.shape[0])

    def reset(self) -> None:
        self.rec.reset()

    def columns(self, cols: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Coefficients of one block (removes ``CROPS_KEY`` from ``cols``)."""
        from facelens.core.common.types import is_usable
        from facelens.core.face.geometry import posefree_batch

        crops = cols.pop(CROPS_KEY)
        with np.errstate(invalid="ignore", divide="ignore"):
            pf = posefree_batch(np.asarray(cols["landmarks"], np.float64), cols["rotation"], cols["translation"],
                                cols["scale"])
        usable = np.asarray(is_usable(np.asarray(cols["quality"])), bool) & np.all(np.isfinite(pf), axis=(1, 2))
        n = len(usable)
        k_exp, k_id = self.coef_sizes
        expr, ident, res = np.full((n, k_exp), np.nan), np.full((n, k_id), np.nan), np.full(n, np.nan)
        rows = np.flatnonzero(usable)
        if len(rows):
            small = resize_crops(crops[rows], self.rec.size).permute(0, 2, 3, 1).numpy()
            p = self.rec.predict_crops(small)
            expr[rows] = p["exp"] * self.rec.net.exp_sd.cpu().numpy()
            iod = np.linalg.norm(pf[rows, 263] - pf[rows, 33], axis=1)
            res[rows] = np.linalg.norm(p["shape"][:, :468] - pf[rows, :468], axis=2).mean(1) / iod
            sd_id = self.rec.net.id_sd.cpu().numpy()
            for j, i in enumerate(rows):
                self.rec._sum = self.rec._sum + p["id"][j].astype(np.float64)
                self.rec._n += 1
                ident[i] = self.rec._sum / self.rec._n * sd_id
        return {"coef_exp": expr.astype(np.float32), "coef_id": ident.astype(np.float32),
                "fit_residual": res.astype(np.float32)}

    def warm_up(self, partial: Path, n: int) -> None:
        """Continue the identity mean of the first ``n`` stored frames (module notes)."""
        import h5py

        self.reset()
        if n == 0:
            return
        with h5py.File(partial, "r") as f:
            ids = np.asarray(f["frames"]["coef_id"][:n], np.float64)
        ok = np.all(np.isfinite(ids), axis=1)
        if ok.any():
            self.rec._n = int(ok.sum())
            self.rec._sum = ids[np.flatnonzero(ok)[-1]] / self.rec.net.id_sd.cpu().numpy() * self.rec._n

    def card(self) -> dict:
        """The model card entry for the results file (which reconstruction produced the coefficients)."""
        from facelens.core.common.hashing import sha256_file

        c = self.rec.card
        return {"id": c.get("id", "asmv2l"), "task": "per-frame morphable-model coefficients from the AsmV2L "
                "network (no text at inference: learned default embeddings)", "version": str(c.get("epochs", "")),
                "file": str(self.checkpoint), "sha256": sha256_file(self.checkpoint),
                "device": str(self.rec.device), "training_data": c.get("training_data", []),
                "metrics": c.get("metrics_held_out", {}), "notes": "docs/asmv2l.md"}


def reconstruction_stage(spec: str, device: str | None = None) -> object:
    """``fit`` -> the morphable fit's ``ReconStage``; ``asmv2l[:CHECKPOINT]`` -> :class:`AsmV2LStage`."""
    kind, path = parse_reconstruction(spec)
    if kind == "fit":
        from facelens.core.analysis.recon_stage import ReconStage

        return ReconStage()
    return AsmV2LStage(path, device=device)


def needs_crops(spec: str) -> bool:
    """Whether the per-frame step must put ``CROPS_KEY`` into its blocks."""
    return parse_reconstruction(spec)[0] == "asmv2l"
