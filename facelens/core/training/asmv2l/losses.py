"""AsmV2L losses: landmarks, coefficient distillation, joint image reconstruction L_CJ, region
weighting and the language-guided weighted text-to-image loss L_WT.

* ``landmark_loss``: mean 2D distance of the projected model vertices to the tracked mesh, in units of
  the tracked inter-ocular distance (outer eye corners 33-263), per-vertex weighted.
* ``coefficient_loss``: Huber error of identity / expression (SD units) and squared error of the pose
  against the morphable fit of the tracked mesh (distillation of the closed-form fit into the network).
* ``joint_image_loss`` (L_CJ): L1 between the crop and (a) the mesh rendered with learned albedo and SH
  lighting through :mod:`.render` (3D half), weighted per pixel by the region weights of the vertices
  it blends (the pixel-vertex mapping of the rasteriser), and (b) the dense 2D map decoded to RGB
  (2D half).
* ``text_image_loss`` (L_WT): the dense map is averaged inside each region's rendered pixels, projected
  to the text space and scored against every region phrase of the batch (cosine / temperature); the
  target is uniform over the batch items whose phrase for that region is the same (a supervised
  contrastive loss), weighted per region by the region weights.
* :class:`RegionWeights`: the adaptive region weighting, ``w_r = sensitivity_r * e_r / mean(e)``
  normalised to mean one over vertices, ``e_r`` an exponential average of region r's landmark error;
  constant one when area weighting is off.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from facelens.core.face.asmv2l.regions import REGIONS
from facelens.core.face.asmv2l.render import Raster, interpolate, rasterize

if TYPE_CHECKING:
    from facelens.core.face.asmv2l.network import AsmV2L

EYE_CORNERS = (33, 263)
TEMPERATURE = 0.1


class RegionWeights:
    """Adaptive per-region weights (see the module notes); state saved in checkpoints."""

    def __init__(self, sensitivity: torch.Tensor, vertex_region: torch.Tensor, enabled: bool,
                 momentum: float = 0.9) -> None:
        self.sens = sensitivity.float()
        self.vr = vertex_region
        self.enabled = enabled
        self.momentum = momentum
        self.err = torch.ones(len(REGIONS))

    def region(self) -> torch.Tensor:
        """(R,) current weights."""
        if not self.enabled:
            return torch.ones(len(REGIONS))
        w = self.sens * self.err / self.err.mean()
        counts = torch.bincount(self.vr.cpu(), minlength=len(REGIONS)).float()
        return w / ((w * counts).sum() / counts.sum())

    def vertex(self) -> torch.Tensor:
        """(V,) weight of every vertex."""
        return self.region()[self.vr.cpu()]

    def update(self, per_vertex_err: torch.Tensor) -> None:
        """Fold one batch's mean per-vertex landmark error (V,) into the running region errors."""
        e = per_vertex_err.detach().cpu().float()
        for r in range(len(REGIONS)):
            sel = self.vr.cpu() == r
            if sel.any():
                self.err[r] = self.momentum * self.err[r] + (1 - self.momentum) * e[sel].mean()

    def state_dict(self) -> dict:
        """For checkpoints."""
        return {"err": self.err.clone()}

    def load_state_dict(self, d: dict) -> None:
        """Inverse of :meth:`state_dict`."""
        self.err = d["err"].clone()


def landmark_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(B,V) 2D distance over the target's inter-ocular distance."""
    iod = (target[:, EYE_CORNERS[0], :2] - target[:, EYE_CORNERS[1], :2]).norm(dim=-1).clamp(min=1e-6)
    return (pred[..., :2] - target[..., :2]).norm(dim=-1) / iod[:, None]


def landmark_loss(pred: torch.Tensor, target: torch.Tensor, vweight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean landmark error and the per-vertex batch mean (for :class:`RegionWeights`)."""
    err = landmark_error(pred, target)
    return (err * vweight).sum(1).mean() / vweight.sum(), err.mean(0)


def coefficient_loss(out: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Distillation of the morphable fit: identity + expression (SD units, Huber: a few badly tracked
    frames have coefficients of 10-20 SD) + pose (squared error, radians and crop units, x10)."""
    return (F.smooth_l1_loss(out["id"], batch["id"]) + F.smooth_l1_loss(out["exp"], batch["exp"])
            + F.mse_loss(out["pose"], batch["pose"]) * 10.0)


def _down(images: torch.Tensor, size: int) -> torch.Tensor:
    return images if images.shape[-1] == size else F.interpolate(images, size=(size, size), mode="area")


def joint_image_loss(model: AsmV2L, out: dict[str, torch.Tensor], posed: torch.Tensor,
                     images: torch.Tensor, vweight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Raster]:
    """L_CJ = rendered-vs-image (region-weighted, covered pixels) + dense-map RGB-vs-image.

    Returns the loss, the unweighted photometric error (mean absolute, 0-1 units) and the raster.
    """
    size = model.cfg.render_size
    raster = rasterize(posed, model.faces, size)
    colours = model.colours(out, posed)
    rendered = interpolate(colours, model.faces, raster)
    target = _down(images, size).permute(0, 2, 3, 1)
    pw = interpolate(vweight.view(1, -1, 1).expand(len(posed), -1, 1), model.faces, raster)[..., 0]
    mask = raster.mask.float()
    absdiff = (rendered - target).abs().mean(-1)
    photo = (absdiff * mask * pw).sum() / mask.sum().clamp(min=1.0)
    plain = (absdiff * mask).sum() / mask.sum().clamp(min=1.0)
    dense_rgb = torch.sigmoid(model.dense_rgb(out["dense"]))
    two_d = (dense_rgb - _down(images, dense_rgb.shape[-1])).abs().mean()
    return photo + two_d, plain.detach(), raster


def region_map(model: AsmV2L, raster: Raster, size: int) -> torch.Tensor:
    """(B,R,size,size) soft region masks: barycentric weights summed per region, resized to ``size``."""
    corners = model.faces[raster.tri.clamp(min=0)]
    reg = model.vertex_region[corners]  # (B,H,W,3)
    onehot = F.one_hot(reg, len(REGIONS)).float() * raster.bary.detach().unsqueeze(-1)
    m = (onehot.sum(-2) * raster.mask.unsqueeze(-1)).permute(0, 3, 1, 2)
    return F.interpolate(m, size=(size, size), mode="bilinear", align_corners=False)


def text_image_loss(model: AsmV2L, out: dict[str, torch.Tensor], raster: Raster, text: torch.Tensor,
                    phrase_ids: torch.Tensor, rweight: torch.Tensor) -> torch.Tensor:
    """L_WT (module notes). ``text`` (B,R,384), ``phrase_ids`` (B,R) long, ``rweight`` (R,)."""
    dense = out["dense"]
    masks = region_map(model, raster, dense.shape[-1])  # (B,R,H,W)
    pooled = torch.einsum("brhw,bchw->brc", masks, dense) / masks.sum((2, 3)).clamp(min=1e-6).unsqueeze(-1)
    img = F.normalize(model.region_proj(pooled), dim=-1)
    txt = F.normalize(text, dim=-1)
    total = img.new_zeros(())
    for r in range(len(REGIONS)):
        logits = img[:, r] @ txt[:, r].t() / TEMPERATURE  # (B,B): item i's region image vs item j's text
        same = (phrase_ids[:, r, None] == phrase_ids[None, :, r]).float()
        target = same / same.sum(1, keepdim=True)
        present = masks[:, r].sum((1, 2)) > 0
        if present.any():
            ce = -(target * F.log_softmax(logits, dim=1)).sum(1)
            total = total + rweight[r] * ce[present].mean()
    return total / len(REGIONS)
