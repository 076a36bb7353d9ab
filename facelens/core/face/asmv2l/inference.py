"""AsmV2L as the pipeline's per-frame reconstruction (``facelens analyze --reconstruction asmv2l``).

:class:`AsmV2LReconstructor` has the streaming interface of the morphable model's ``SessionFitter``
(``reset``, ``update``, ``identity``) but takes the frames' pixels: each usable frame is cropped
around its tracked mesh exactly as in training (:func:`.data.crop_frame`), the crops of a batch go
through the network together (on CUDA when present), without text (learned default embeddings).

* expression: the network's coefficients, converted from SD units to the model's centimetres;
* identity: the running mean of the network's per-frame identity over the usable frames so far
  (causal, like the fit's, so a resumed analysis replays to the same values);
* residual: mean distance of the network's pose-free shape to the tracked pose-free mesh (468 mesh
  points), in units of the tracked inter-ocular distance, as the fit reports it.

``checkpoint`` may be a training checkpoint or an exported weights file; ``parse_reconstruction``
reads the command-line spelling ``fit``, ``asmv2l`` (the registry's default checkpoint) or
``asmv2l:PATH``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from facelens.core.common.devices import resolve_device
from facelens.core.face.asmv2l import checkpoint as ckpt
from facelens.core.face.asmv2l.crops import crop_frame

REGISTRY_ID = "asmv2l-small"


@dataclass
class FrameCoefficients:
    """What one :meth:`AsmV2LReconstructor.update` returns (field names as the fit's ``SessionFit``)."""

    identity: np.ndarray  # (K_id,) after the last frame
    expression: np.ndarray  # (N, K_exp) cm, NaN where not usable
    residual: np.ndarray  # (N,) inter-ocular units, NaN where not usable
    identity_frames: np.ndarray  # (N, K_id)


def parse_reconstruction(spec: str) -> tuple[str, Path | None]:
    """``'fit'`` -> ("fit", None); ``'asmv2l'`` -> ("asmv2l", None); ``'asmv2l:PATH'`` -> ("asmv2l", PATH).

    Raises
    ------
    ValueError
        Any other spelling (one line).
    """
    kind, _, rest = spec.partition(":")
    if kind == "fit" and not rest:
        return "fit", None
    if kind == "asmv2l":
        return "asmv2l", Path(rest) if rest else None
    raise ValueError(f"--reconstruction must be fit, asmv2l or asmv2l:CHECKPOINT, not {spec!r}")


class AsmV2LReconstructor:
    """Batched per-frame coefficients from an AsmV2L checkpoint (see the module notes)."""

    def __init__(self, checkpoint: Path, device: str = "auto", batch_size: int = 64) -> None:
        state = ckpt.load(Path(checkpoint))
        self.device = torch.device(resolve_device(device))
        self.net = ckpt.model_from_state(state).to(self.device)
        self.path = Path(checkpoint)
        self.batch_size = batch_size
        self.size = self.net.cfg.input_size
        self.card = dict(state.get("card") or {})
        self.reset()

    def reset(self) -> None:
        """Start a new session."""
        self._n = 0
        self._sum = np.zeros(self.net.id_sd.shape[0])

    @property
    def identity(self) -> np.ndarray:
        """(K_id,) cm, mean over the usable frames so far (zeros before the first)."""
        return self._sum / max(self._n, 1) * self.net.id_sd.cpu().numpy()

    @torch.no_grad()
    def predict_crops(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """Network outputs for (N,S,S,3) uint8 crops at the input size: ``id``, ``exp`` (SD units), ``shape``."""
        out: dict[str, list[np.ndarray]] = {"id": [], "exp": [], "shape": []}
        for k in range(0, len(crops), self.batch_size):
            x = torch.from_numpy(np.ascontiguousarray(crops[k:k + self.batch_size])).to(self.device)
            x = x.permute(0, 3, 1, 2).float() / 255.0
            o = self.net(x)
            out["id"].append(o["id"].cpu().numpy())
            out["exp"].append(o["exp"].cpu().numpy())
            out["shape"].append(self.net.shape(o["id"], o["exp"]).cpu().numpy())
        return {k: np.concatenate(v) if v else np.zeros((0,)) for k, v in out.items()}

    def update(self, frames: list[np.ndarray], landmarks: np.ndarray, usable: np.ndarray,
               posefree: np.ndarray | None = None) -> FrameCoefficients:
        """Coefficients of the next frames: RGB ``frames``, image-frame ``landmarks`` (N,478,3), ``usable`` (N,).

        ``posefree`` (N,478,3) tracked pose-free meshes give the residual (NaN without them).
        """
        lm = np.asarray(landmarks, np.float64)
        n = len(lm)
        ok = np.asarray(usable, bool) & np.all(np.isfinite(lm.reshape(n, -1)), axis=1)
        k_id, k_exp = self.net.id_sd.shape[0], self.net.exp_sd.shape[0]
        expr = np.full((n, k_exp), np.nan)
        ident = np.zeros((n, k_id))
        res = np.full(n, np.nan)
        rows = np.flatnonzero(ok)
        ids = np.zeros((0, k_id))
        if len(rows):
            crops = np.stack([crop_frame(frames[i], lm[i], self.size)[0] for i in rows])
            p = self.predict_crops(crops)
            ids = p["id"].astype(np.float64)
            expr[rows] = p["exp"] * self.net.exp_sd.cpu().numpy()
            if posefree is not None:
                pf = np.asarray(posefree, np.float64)[rows, :468]
                iod = np.linalg.norm(pf[:, 263] - pf[:, 33], axis=1)
                res[rows] = np.linalg.norm(p["shape"][:, :468] - pf, axis=2).mean(1) / iod
        sd_id = self.net.id_sd.cpu().numpy()
        nxt = iter(ids)
        for i in range(n):
            if ok[i]:
                self._sum = self._sum + next(nxt)
                self._n += 1
            ident[i] = self._sum / max(self._n, 1) * sd_id
        return FrameCoefficients(identity=self.identity, expression=expr, residual=res, identity_frames=ident)


def checkpoint_folders() -> list[Path]:
    """Where AsmV2L weights are looked for: the shipped ``models/asmv2l`` and ``<user models>/asmv2l``."""
    from facelens.core.common.paths import models_src_dir
    from facelens.core.registry import user_dir

    out = []
    try:
        out.append(models_src_dir() / "asmv2l")
    except FileNotFoundError:
        pass
    return out + [user_dir() / "asmv2l"]


def list_checkpoints() -> list[dict]:
    """Every AsmV2L weights/checkpoint file in :func:`checkpoint_folders` with its card.

    Each entry: ``path``, ``sha256``, and the card's ``id``, ``training_data``, ``epochs`` and
    ``metrics_held_out`` (empty for a training checkpoint, whose card is written at export).
    """
    from facelens.core.common.hashing import sha256_file

    rows: list[dict[str, Any]] = []
    for folder in checkpoint_folders():
        for path in sorted(folder.glob("*.pt")) if folder.is_dir() else []:
            try:
                card = dict(ckpt.load(path).get("card") or {})
            except ckpt.CheckpointError as exc:
                rows.append({"path": str(path), "error": str(exc)})
                continue
            rows.append({"path": str(path), "sha256": sha256_file(path), "id": card.get("id", path.stem),
                         "training_data": card.get("training_data", []), "epochs": card.get("epochs"),
                         "metrics_held_out": card.get("metrics_held_out", {})})
    return rows


def default_checkpoint() -> Path:
    """The registry's ``asmv2l-small`` weights (verified against the manifest's SHA-256)."""
    from facelens.core.registry import registry

    return registry.path(REGISTRY_ID)

