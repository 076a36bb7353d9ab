"""The AsmV2L network (the seed paper's Table 1 on the FaceLens morphable model).

Layout, shapes for the Table-1 configuration (:meth:`AsmConfig.table1`, 224x224 input):

* encoder: ResNet-18 (:mod:`.resnet`) -> 7x7x512, average-pooled to the 6x6x512 map of Table 1;
* joint 2D-3D branch: five (2x nearest upsampling, 3x3 conv, BN, ReLU) layers -> the dense
  192x192x32 2D facial feature map; the global 1x1024 2D-3D representation is an FC layer over the
  pooled 6x6 map and the pooled dense map;
* heads on the global vector: identity (K_id), expression (K_exp), pose (yaw, pitch, roll), camera
  (weak perspective: x, y translation and log scale in crop units), lighting (9 spherical-harmonic
  coefficients per colour channel) and albedo (coefficients of a learned per-vertex albedo basis);
* text-guided modulation: one 384-d all-MiniLM-L6-v2 embedding per region (:data:`.regions.REGIONS`)
  gives a FiLM scale and shift of the expression head's hidden layer; the expression head's output
  under region r's modulation enters coefficient k with weight ``share[k, r]``
  (:func:`.regions.component_region_share`), so each text chunk acts on the parameters of its region.
  Without text (inference) each region uses a learned default embedding, trained by text dropout.

All coefficients are predicted in units of their standard deviation in the morphable model.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facelens.core.face.asmv2l.regions import REGIONS, component_region_share, vertex_regions
from facelens.core.face.asmv2l.render import sh_basis, vertex_normals
from facelens.core.face.asmv2l.resnet import ResNet18

N_SH = 9
IMAGE_MEAN = (0.485, 0.456, 0.406)  # ImageNet statistics: a conventional input normalisation
IMAGE_STD = (0.229, 0.224, 0.225)


@dataclass
class AsmConfig:
    """Sizes of one AsmV2L network (saved in every checkpoint)."""

    n_id: int
    n_exp: int
    input_size: int = 224
    width: int = 64
    map_size: int = 6
    decoder_channels: tuple[int, ...] = (256, 128, 64, 32, 32)
    global_dim: int = 1024
    hidden: int = 256
    text_dim: int = 384
    film_dim: int = 64
    n_albedo: int = 16
    use_text: bool = True
    render_size: int = 64
    extra: dict = field(default_factory=dict)

    @classmethod
    def table1(cls, n_id: int, n_exp: int, **kw: object) -> AsmConfig:
        """The paper's sizes (224 input, 6x6x512 map, 192x192x32 dense map, 1x1024 global)."""
        return cls(n_id=n_id, n_exp=n_exp, **kw)  # type: ignore[arg-type]

    @classmethod
    def small(cls, n_id: int, n_exp: int, **kw: object) -> AsmConfig:
        """CPU configuration: 128 input, ResNet-18 at width 16 -> 4x4x128 map, 128x128x16 dense map,
        1x512 global (same layer structure, ~1/40 of the compute)."""
        base = {"input_size": 128, "width": 16, "map_size": 4, "decoder_channels": (64, 32, 32, 16, 16),
                    "global_dim": 512, "hidden": 128}
        base.update(kw)
        return cls(n_id=n_id, n_exp=n_exp, **base)  # type: ignore[arg-type]

    def as_dict(self) -> dict:
        """Plain dict for checkpoints."""
        d = asdict(self)
        d["decoder_channels"] = list(self.decoder_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> AsmConfig:
        """Inverse of :meth:`as_dict`."""
        d = dict(d)
        d["decoder_channels"] = tuple(d["decoder_channels"])
        return cls(**d)


def rotation_from_angles(a: torch.Tensor) -> torch.Tensor:
    """Template->image rotations (B,3,3) from (B,3) angles ``(yaw, -pitch, roll)`` in radians:
    ``FLIP @ Ry @ Rx @ Rz`` as :func:`facelens.core.face.geometry.rotation_from_euler`."""
    ca, sa = torch.cos(a[:, 0]), torch.sin(a[:, 0])
    cb, sb = torch.cos(a[:, 1]), torch.sin(a[:, 1])
    cc, sc = torch.cos(a[:, 2]), torch.sin(a[:, 2])
    o, z = torch.ones_like(ca), torch.zeros_like(ca)
    ry = torch.stack([ca, z, sa, z, o, z, -sa, z, ca], 1).view(-1, 3, 3)
    rx = torch.stack([o, z, z, z, cb, -sb, z, sb, cb], 1).view(-1, 3, 3)
    rz = torch.stack([cc, -sc, z, sc, cc, z, z, z, o], 1).view(-1, 3, 3)
    flip = torch.tensor([1.0, -1.0, -1.0], dtype=a.dtype, device=a.device).view(1, 3, 1)
    return flip * (ry @ rx @ rz)


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c_in, c_out, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class AsmV2L(nn.Module):
    """AsmV2L: image (+ optional region texts) -> morphable-model coefficients, pose, camera, light, albedo.

    Parameters
    ----------
    cfg
        Sizes.
    morph
        The morphable model (``mean``, ``identity_basis``, ``expression_basis``, ``identity_sd``,
        ``expression_sd``); its arrays are copied into buffers so a checkpoint is self-contained.
    faces
        (T,3) triangles of the surface (the 852 of :mod:`facelens.core.face.topology`).
    """

    # buffers, registered in __init__ (declared here so that the type checker knows them as tensors)
    mean_shape: torch.Tensor
    id_basis: torch.Tensor
    exp_basis: torch.Tensor
    id_sd: torch.Tensor
    exp_sd: torch.Tensor
    share: torch.Tensor
    vertex_region: torch.Tensor
    faces: torch.Tensor
    pose_mean: torch.Tensor
    img_mean: torch.Tensor
    img_std: torch.Tensor

    def __init__(self, cfg: AsmConfig, morph: object, faces: np.ndarray) -> None:
        super().__init__()
        self.cfg = cfg
        f32 = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))
        self.register_buffer("mean_shape", f32(morph.mean))  # type: ignore[attr-defined]
        self.register_buffer("id_basis", f32(morph.identity_basis) * f32(morph.identity_sd)[:, None, None])  # type: ignore[attr-defined]
        self.register_buffer("exp_basis", f32(morph.expression_basis) * f32(morph.expression_sd)[:, None, None])  # type: ignore[attr-defined]
        self.register_buffer("id_sd", f32(morph.identity_sd))  # type: ignore[attr-defined]
        self.register_buffer("exp_sd", f32(morph.expression_sd))  # type: ignore[attr-defined]
        regions = vertex_regions(np.asarray(morph.mean))  # type: ignore[attr-defined]
        share = component_region_share(morph.expression_basis, morph.expression_sd, regions)  # type: ignore[attr-defined]
        self.register_buffer("share", f32(share))  # (K_exp, R)
        self.register_buffer("vertex_region", torch.as_tensor(regions))
        self.register_buffer("faces", torch.as_tensor(np.asarray(faces, dtype=np.int64)))
        self.register_buffer("pose_mean", torch.tensor([0.0, 0.0, 0.0, 0.5, 0.5, -3.0]))
        self.register_buffer("img_mean", torch.tensor(IMAGE_MEAN).view(1, 3, 1, 1))
        self.register_buffer("img_std", torch.tensor(IMAGE_STD).view(1, 3, 1, 1))
        self.encoder = ResNet18(cfg.width)
        c = self.encoder.out_channels
        layers, c_in = [], c
        for c_out in cfg.decoder_channels:
            layers.append(_up(c_in, c_out))
            c_in = c_out
        self.decoder = nn.Sequential(*layers)
        self.dense_channels = c_in
        self.dense_rgb = nn.Conv2d(c_in, 3, 1)  # 2D half of the joint image reconstruction (L_CJ)
        self.region_proj = nn.Linear(c_in, cfg.text_dim)  # region image features -> text space (L_WT)
        self.fc_global = nn.Linear(c + c_in, cfg.global_dim)
        g, h, r = cfg.global_dim, cfg.hidden, len(REGIONS)
        self.head_id = nn.Linear(g, cfg.n_id)
        self.head_pose = nn.Linear(g, 6)  # yaw, -pitch, roll (rad); camera tx, ty, log scale
        self.head_light = nn.Linear(g, 3 * N_SH)
        self.head_albedo = nn.Linear(g, cfg.n_albedo)
        self.exp_hidden = nn.Linear(g, h)
        self.exp_out = nn.Linear(h, cfg.n_exp)
        self.text_default = nn.Parameter(torch.randn(r, cfg.text_dim) * 0.05)
        self.text_proj = nn.Linear(cfg.text_dim, cfg.film_dim)
        self.film = nn.Parameter(torch.zeros(r, cfg.film_dim, 2 * h))  # per-region FiLM generator
        self.albedo_mean = nn.Parameter(torch.full((len(morph.mean), 3), 0.5))  # type: ignore[attr-defined]
        self.albedo_basis = nn.Parameter(torch.randn(cfg.n_albedo, len(morph.mean), 3) * 0.01)  # type: ignore[attr-defined]
        for head in (self.head_id, self.head_pose, self.head_light, self.head_albedo, self.exp_out):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        with torch.no_grad():
            self.head_light.bias.view(3, N_SH)[:, 0] = 1.0  # start under uniform ambient light

    def forward(self, images: torch.Tensor, text: torch.Tensor | None = None,
                text_on: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Run the network.

        Parameters
        ----------
        images
            (B,3,S,S) RGB in [0, 1], S = ``cfg.input_size``.
        text
            (B,R,384) region embeddings, or None (learned defaults everywhere).
        text_on
            (B,R) bool: which regions use ``text`` (the others their learned default).

        Returns
        -------
        dict
            ``feature_map`` (B,C,M,M), ``dense`` (B,32,32M,32M), ``global`` (B,G), ``id`` (B,K_id),
            ``exp`` (B,K_exp), ``pose`` (B,6), ``light`` (B,3,9), ``albedo`` (B,n_albedo).
        """
        x = (images - self.img_mean) / self.img_std
        fmap = F.adaptive_avg_pool2d(self.encoder(x), self.cfg.map_size)
        dense = self.decoder(fmap)
        glob = torch.relu(self.fc_global(torch.cat([fmap.mean((2, 3)), dense.mean((2, 3))], 1)))
        b = len(images)
        hid = torch.relu(self.exp_hidden(glob))
        if self.cfg.use_text:
            emb = self.text_default.unsqueeze(0).expand(b, -1, -1)
            if text is not None:
                on = torch.ones(b, len(REGIONS), dtype=torch.bool, device=x.device) if text_on is None else text_on
                emb = torch.where(on.unsqueeze(-1), text.to(emb.dtype), emb)
            t = torch.relu(self.text_proj(emb))  # (B,R,film_dim)
            gb = torch.einsum("brf,rfh->brh", t, self.film)
            gamma, beta = gb.chunk(2, dim=-1)
            per_region = self.exp_out(hid.unsqueeze(1) * (1 + gamma) + beta)  # (B,R,K)
            exp = (per_region * self.share.t().unsqueeze(0)).sum(1)
        else:
            exp = self.exp_out(hid)
        return {"feature_map": fmap, "dense": dense, "global": glob, "id": self.head_id(glob), "exp": exp,
                "pose": self.head_pose(glob) + self.pose_mean,
                "light": self.head_light(glob).view(b, 3, N_SH), "albedo": self.head_albedo(glob)}

    def shape(self, id_coef: torch.Tensor, exp_coef: torch.Tensor) -> torch.Tensor:
        """Template-frame vertices (B,V,3) of coefficients in SD units."""
        return (self.mean_shape + torch.einsum("bk,kvc->bvc", id_coef, self.id_basis)
                + torch.einsum("bk,kvc->bvc", exp_coef, self.exp_basis))

    def project(self, verts: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
        """Template vertices -> crop frame (x right, y down in crop units 0..1, z away from the camera)."""
        rot = rotation_from_angles(pose[:, :3])
        scale = torch.exp(pose[:, 5]).view(-1, 1, 1)
        shift = torch.cat([pose[:, 3:5], torch.zeros_like(pose[:, :1])], 1).unsqueeze(1)
        return scale * verts @ rot.transpose(1, 2) + shift

    def colours(self, out: dict[str, torch.Tensor], posed: torch.Tensor) -> torch.Tensor:
        """Per-vertex RGB (B,V,3): learned albedo times spherical-harmonic shading of the posed normals."""
        n = vertex_normals(posed, self.faces) * torch.tensor([1.0, -1.0, -1.0], device=posed.device)
        shade = torch.einsum("bvs,bcs->bvc", sh_basis(n), out["light"])
        albedo = self.albedo_mean + torch.einsum("bk,kvc->bvc", out["albedo"], self.albedo_basis)
        return albedo * shade

    def config_dict(self) -> dict:
        """The configuration as saved in checkpoints."""
        return self.cfg.as_dict()
