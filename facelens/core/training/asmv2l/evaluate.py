"""Evaluation of an AsmV2L network on prepared frames.

Metrics (``facelens recon eval``):

* ``nme``: landmark error, mean over the 468 mesh points (irises excluded) of the 2D distance between
  the network's projected vertices and the tracked mesh, over the tracked outer inter-ocular distance
  (33-263); mean and 95th percentile over frames. Baselines in the same run: ``nme_mean_shape``, the
  training frames' mean landmark layout predicted for every frame, and ``nme_model_mean``, the
  morphable model's mean shape at the training frames' mean pose (the untrained network's output).
* ``coef_rmse_exp`` / ``coef_rmse_id``: RMSE against the morphable fit of the tracked mesh, SD units.
* ``photometric``: mean absolute RGB error (0-1) of the rendered face on its covered pixels.
* ``e_acc``, ``v_ccc``, ``a_ccc``: a temporal regressor G applied to the network's expression
  coefficients (cm, as G was trained on the fit's coefficients) and, as the reference in the same run,
  to the fit's own coefficients (``*_fit``); labelled frames only.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from facelens.core.affect.fer import FER_TO_AFFECTNET
from facelens.core.common.agreement import ccc
from facelens.core.face.asmv2l.render import interpolate, rasterize
from facelens.core.training.asmv2l.data import FrameSet
from facelens.core.training.asmv2l.losses import landmark_error

if TYPE_CHECKING:
    from facelens.core.face.asmv2l.network import AsmV2L

N_MESH = 468
LABEL_ALIASES = FER_TO_AFFECTNET


def nme(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-frame NME (N,) over the 468 mesh points."""
    err = landmark_error(torch.as_tensor(pred[:, :N_MESH]), torch.as_tensor(target[:, :N_MESH]))
    return err.mean(1).numpy()


@torch.no_grad()
def predict(net: AsmV2L, images: torch.Tensor, device: torch.device | str = "cpu", batch: int = 64,
            photometric: bool = False) -> dict[str, np.ndarray]:
    """Coefficients (SD units), pose, projected vertices (crop units) and optionally photometric error.

    ``images`` (N,3,S,S) uint8 or float in [0, 1] at the network's input size.
    """
    was = net.training
    net.eval()
    keys = ("id", "exp", "pose")
    out: dict[str, list] = {k: [] for k in (*keys, "vertices", "photometric")}
    for k in range(0, len(images), batch):
        x = images[k:k + batch].to(device)
        x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
        o = net(x)
        posed = net.project(net.shape(o["id"], o["exp"]), o["pose"])
        for key in keys:
            out[key].append(o[key].cpu())
        out["vertices"].append(posed.cpu())
        if photometric:
            size = net.cfg.render_size
            r = rasterize(posed, net.faces, size)
            img = interpolate(net.colours(o, posed), net.faces, r)
            tgt = torch.nn.functional.interpolate(x, size=(size, size), mode="area").permute(0, 2, 3, 1)
            m = r.mask.float()
            out["photometric"].append(((img - tgt).abs().mean(-1) * m).sum((1, 2)).cpu() / m.sum((1, 2)).clamp(min=1).cpu())
    net.train(was)
    return {k: torch.cat(v).numpy() for k, v in out.items() if v}


def predict_landmarks(net: AsmV2L, images: torch.Tensor, device: torch.device | str = "cpu") -> np.ndarray:
    """(N,478,3) projected vertices in crop units."""
    return predict(net, images, device)["vertices"]


def _g_metrics(g: object, exp_cm: np.ndarray, frames: FrameSet, suffix: str,
               class_names: tuple[str, ...]) -> dict[str, float]:
    va = np.full((len(frames), 2), np.nan)
    cls = np.full(len(frames), -1)
    for s in np.unique(frames.session):
        rows = np.flatnonzero(frames.session == s)
        v, p = g.predict(exp_cm[rows], rows)  # type: ignore[attr-defined]
        va[rows], cls[rows] = v, np.argmax(np.nan_to_num(p, nan=-1.0), axis=1)
    names = list(class_names)
    lab = np.array([names.index(LABEL_ALIASES.get(x, x)) if LABEL_ALIASES.get(x, x) in names else -1
                    for x in frames.label])
    ok = lab >= 0
    out = {}
    if ok.any():
        out[f"e_acc{suffix}"] = float((cls[ok] == lab[ok]).mean())
    if np.isfinite(frames.valence).any():
        out[f"v_ccc{suffix}"] = ccc(va[:, 0], frames.valence)
        out[f"a_ccc{suffix}"] = ccc(va[:, 1], frames.arousal)
    return out


def evaluate(net: AsmV2L, images: torch.Tensor, frames: FrameSet, train_mean_landmarks: np.ndarray | None,
             g: object | None = None, class_names: tuple[str, ...] = (), device: str = "cpu") -> dict[str, float]:
    """All metrics of the module notes for ``frames`` (their coefficient targets must be filled).

    ``g`` has ``predict((T, K_exp) cm, rows) -> (va (T, 2), probabilities (T, C))`` (``rows``: the
    frames' indices in ``frames``, one session in time order) with classes
    ``class_names`` (the caller loads it: G lives in the affect stage, above this package).
    """
    p = predict(net, images, device, photometric=True)
    e = nme(p["vertices"], frames.landmarks)
    res: dict[str, float] = {"frames": float(len(frames)), "nme": float(e.mean()), "nme_p95": float(np.percentile(e, 95))}
    if train_mean_landmarks is not None:
        base = np.repeat(train_mean_landmarks[None], len(frames), 0)
        res["nme_mean_shape"] = float(nme(base, frames.landmarks).mean())
    with torch.no_grad():
        k_id, k_exp = net.id_sd.shape[0], net.exp_sd.shape[0]
        zero = net.project(net.shape(torch.zeros(1, k_id), torch.zeros(1, k_exp)), net.pose_mean[None].cpu())
    res["nme_model_mean"] = float(nme(np.repeat(zero.numpy(), len(frames), 0), frames.landmarks).mean())
    if frames.exp_coef.shape[1] == p["exp"].shape[1]:
        res["coef_rmse_exp"] = float(np.sqrt(((p["exp"] - frames.exp_coef) ** 2).mean()))
        res["coef_rmse_id"] = float(np.sqrt(((p["id"] - frames.id_coef) ** 2).mean()))
        res["coef_rmse_exp_zero"] = float(np.sqrt((frames.exp_coef ** 2).mean()))  # predicting the mean
    pose_err = np.degrees(np.abs(p["pose"][:, :3] - frames.pose[:, :3])).mean()
    res["pose_mae_deg"] = float(pose_err)
    res["photometric"] = float(p["photometric"].mean())
    if g is not None:
        sd = net.exp_sd.cpu().numpy()
        res.update(_g_metrics(g, p["exp"] * sd, frames, "", class_names))
        res.update(_g_metrics(g, frames.exp_coef * sd, frames, "_fit", class_names))
    return res
