"""AsmV2L checkpoints: one ``torch.save`` dict, written atomically, self-contained.

A checkpoint holds the configuration, the network (including the morphable model's mean and bases
as buffers, so it needs no other file to run), the optimiser, the position in training (epoch and
step), the adaptive region weights, the held-out sessions, the text vocabulary with its embeddings,
the expression-measure statistics of the text rules and the training history. ``export_weights``
writes the network alone in float16 (what ships in ``models/``).
"""
from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from facelens.core.face.asmv2l.network import AsmConfig, AsmV2L

FORMAT = "facelens-asmv2l-1"


class CheckpointError(Exception):
    """A checkpoint that cannot be used (one-line message)."""


def save(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plus the format tag) to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    torch.save({"format": FORMAT, **state}, tmp)
    os.replace(tmp, path)
    return path


def load(path: Path, map_location: str = "cpu") -> dict[str, Any]:
    """Read a checkpoint (:class:`CheckpointError` with one line if it is not one)."""
    if not Path(path).is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise CheckpointError(f"{Path(path).name} is not an AsmV2L checkpoint: {type(exc).__name__}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{Path(path).name} is not an AsmV2L checkpoint")
    return state


def _placeholder_morph(sd: dict[str, torch.Tensor]) -> SimpleNamespace:
    """Arrays of the right shapes (the real values come from the state dict's buffers)."""
    v = sd["mean_shape"].shape[0]
    k_id, k_exp = sd["id_basis"].shape[0], sd["exp_basis"].shape[0]
    return SimpleNamespace(mean=sd["mean_shape"].numpy(), identity_basis=np.ones((k_id, v, 3)),
                           expression_basis=np.ones((k_exp, v, 3)), identity_sd=np.ones(k_id),
                           expression_sd=np.ones(k_exp))


def model_from_state(state: dict[str, Any]) -> AsmV2L:
    """The network of a checkpoint (or of an exported weights file), in eval mode, float32."""
    sd = {k: v.float() if v.is_floating_point() else v for k, v in state["model"].items()}
    cfg = AsmConfig.from_dict(state["config"])
    net = AsmV2L(cfg, _placeholder_morph(sd), sd["faces"].numpy())
    net.load_state_dict(sd)
    return net.eval()


def export_weights(state: dict[str, Any], path: Path, card: dict[str, Any]) -> Path:
    """The network only, float16 (integer buffers kept), with the model-card fields."""
    model = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    keep: dict[str, Any] = {k: state[k] for k in ("config", "text", "measure_stats", "morph_meta") if k in state}
    return save(path, {"model": model, "card": card, **keep})
