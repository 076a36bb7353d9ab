"""Export of a trained AsmV2L run: float16 weights, a model card (Markdown + the card dict inside the
weights file) with the training data, held-out metrics against their baselines, and hashes."""
from __future__ import annotations

import json
import platform
from pathlib import Path

import numpy as np
import torch

from facelens.core.face.asmv2l import checkpoint as ckpt
from facelens.core.training.asmv2l.evaluate import evaluate


def _sha256(path: Path) -> str:
    from facelens.core.common.hashing import sha256_file

    return sha256_file(path)


def export_run(trainer: object, datasets: list[str], morph: object, name: str = "asmv2l.pt") -> Path:
    """Evaluate the run's held-out sessions, write ``<out>/asmv2l.pt`` and ``<out>/MODEL_CARD.md``."""
    tr = trainer
    out: Path = tr.out  # type: ignore[attr-defined]
    state = tr._state()  # type: ignore[attr-defined]
    metrics: dict[str, float] = {}
    if len(tr.val_idx):  # type: ignore[attr-defined]
        val = tr.frames.subset(tr.val_idx)  # type: ignore[attr-defined]
        metrics = evaluate(tr.net, tr.images[tr.val_idx], val, state["train_mean_landmarks"],  # type: ignore[attr-defined]
                           device=str(tr.device))  # type: ignore[attr-defined]
    import hashlib

    h = hashlib.sha256()
    for arr in (morph.mean, morph.identity_basis, morph.expression_basis):  # type: ignore[attr-defined]
        h.update(np.ascontiguousarray(arr, np.float32).tobytes())
    card = {
        "id": "asmv2l-small" if tr.cfg.input_size < 224 else "asmv2l",  # type: ignore[attr-defined]
        "task": "per-frame morphable-model coefficients (identity, expression, pose) from a 224x224-derived face crop",
        "config": tr.cfg.as_dict(),  # type: ignore[attr-defined]
        "options": state["options"],
        "training_data": datasets,
        "training_frames": len(tr.train_idx),  # type: ignore[attr-defined]
        "held_out_frames": len(tr.val_idx),  # type: ignore[attr-defined]
        "held_out_sessions": len(tr.val_sessions),  # type: ignore[attr-defined]
        "epochs": tr.epoch,  # type: ignore[attr-defined]
        "metrics_held_out": metrics,
        "history": tr.history,  # type: ignore[attr-defined]
        "morphable_model": {"n_id": int(tr.net.id_sd.shape[0]), "n_exp": int(tr.net.exp_sd.shape[0]),  # type: ignore[attr-defined]
                            "arrays_sha256": h.hexdigest()},
        "torch": torch.__version__, "python": platform.python_version(),
    }
    path = ckpt.export_weights(state, out / name, card)
    card["sha256"] = _sha256(path)
    card["checkpoint_sha256"] = _sha256(out / "checkpoint.pt") if (out / "checkpoint.pt").is_file() else ""
    (out / "model_card.json").write_text(json.dumps(card, indent=1, default=_plain), encoding="utf-8")
    (out / "MODEL_CARD.md").write_text(card_markdown(card), encoding="utf-8")
    return path


def _plain(x: object) -> object:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def card_markdown(card: dict) -> str:
    """The model card as Markdown."""
    m = card.get("metrics_held_out", {})
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in m.items() if isinstance(v, float))
    return f"""# AsmV2L model card: {card['id']}

- Task: {card['task']}.
- Network: facelens.core.face.asmv2l (config below); trained by `facelens recon train` ({card['epochs']} epochs).
- Training data: {', '.join(card['training_data'])}; {card['training_frames']} frames for training,
  {card['held_out_frames']} frames of {card['held_out_sessions']} held-out sessions (persons) for the metrics.
- Morphable model: {card['morphable_model']['n_id']} identity + {card['morphable_model']['n_exp']} expression components
  (mean + bases SHA-256 `{card['morphable_model']['arrays_sha256']}`).
- Weights: float16, SHA-256 `{card.get('sha256', '')}`.
- Options: `{json.dumps(card['options'])}`
- Config: `{json.dumps(card['config'])}`

## Held-out metrics (same run)

`nme` is the network's landmark error (468 mesh points, inter-ocular units); `nme_mean_shape` and
`nme_model_mean` are the mean-shape baselines (docs/asmv2l.md).

| metric | value |
|---|---|
{rows}

Trained on a CPU at small scale: a useful network needs a GPU and more data (recipe in docs/asmv2l.md).
DiffusionFER faces are synthetic (Stable Diffusion); the corpus clips have unclear rights and are for
development only. Not validated on patients.
"""
