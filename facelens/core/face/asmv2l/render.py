"""A small differentiable rasteriser in plain torch for the 852-triangle face mesh.

pytorch3d has no wheel for this platform and the PyPI renderers that install do not run here
(docs/asmv2l.md, "Renderer"), so this module does what nvdiffrast's ``rasterize`` + ``interpolate``
do, for a mesh this small:

1. **Visibility** (no gradient): every triangle's bounding box is cut into candidate pixel centres
   (a window of ``k x k`` pixels, k the largest box side in the batch); a candidate is covered when its
   three barycentric coordinates are >= 0; a z-buffer (``scatter_reduce`` with ``amin`` over the
   candidates' interpolated depth, smaller z nearer the camera) picks the visible triangle per pixel.
2. **Interpolation** (differentiable): for the visible triangle of each pixel the barycentric
   coordinates are recomputed from the vertex positions with autograd on, and vertex attributes are
   blended with them. Gradients reach vertex attributes and vertex positions inside triangles;
   silhouette edges get no gradient (as in nvdiffrast without its antialiasing pass).

Pixel centres are at ``(i + 0.5) / size`` in crop units (0..1 across the image).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass
class Raster:
    """Which triangle each pixel sees and its barycentric coordinates."""

    tri: torch.Tensor  # (B,H,W) long, -1 where no triangle covers the pixel centre
    bary: torch.Tensor  # (B,H,W,3), differentiable w.r.t. the vertex positions; 0 on the background

    @property
    def mask(self) -> torch.Tensor:
        """(B,H,W) bool, covered pixels."""
        return self.tri >= 0


def _barycentric(p: torch.Tensor, a: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Barycentric coordinates (...,3) of 2D points p in triangles (a,b,c) (all (...,2))."""
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[..., 0] * v1[..., 1] - v1[..., 0] * v0[..., 1]
    den = torch.where(den.abs() < 1e-12, torch.full_like(den, 1e-12), den)
    w1 = (v2[..., 0] * v1[..., 1] - v1[..., 0] * v2[..., 1]) / den
    w2 = (v0[..., 0] * v2[..., 1] - v2[..., 0] * v0[..., 1]) / den
    return torch.stack([1 - w1 - w2, w1, w2], -1)


@torch.no_grad()
def visible_triangles(verts: torch.Tensor, faces: torch.Tensor, size: int) -> torch.Tensor:
    """(B,size,size) index of the nearest triangle covering each pixel centre, -1 for none.

    ``verts`` (B,V,3) in crop units (x, y in 0..1, z smaller = nearer).
    """
    bsz = len(verts)
    px = verts[..., :2] * size - 0.5  # pixel-index units: centre i sits at i
    tri = px[:, faces]  # (B,T,3,2)
    lo = torch.floor(tri.amin(2)).clamp(-1, size) + 1  # first candidate index >= min
    hi = torch.floor(tri.amax(2)).clamp(-1, size)
    span = int((hi - lo).amax().clamp(min=0).item()) + 1
    k = max(1, min(span, size))
    off = torch.arange(k, device=verts.device)
    oy, ox = torch.meshgrid(off, off, indexing="ij")
    cx = lo[..., 0, None] + ox.reshape(1, 1, -1)  # (B,T,K)
    cy = lo[..., 1, None] + oy.reshape(1, 1, -1)
    p = torch.stack([cx, cy], -1).to(px.dtype)
    w = _barycentric(p, tri[:, :, None, 0], tri[:, :, None, 1], tri[:, :, None, 2])
    inside = (w >= 0).all(-1) & (cx <= hi[..., 0, None]) & (cy <= hi[..., 1, None])
    inside &= (cx >= 0) & (cx < size) & (cy >= 0) & (cy < size)
    z = (w * verts[:, faces][..., 2][:, :, None, :]).sum(-1)
    bidx = torch.arange(bsz, device=verts.device).view(-1, 1, 1).expand_as(cx)
    flat = (bidx * size * size + cy.long().clamp(0, size - 1) * size + cx.long().clamp(0, size - 1))[inside]
    zin = z[inside]
    zbuf = torch.full((bsz * size * size,), math.inf, dtype=z.dtype, device=z.device)
    zbuf.scatter_reduce_(0, flat, zin, reduce="amin")
    tid = torch.arange(faces.shape[0], device=verts.device).view(1, -1, 1).expand_as(cx)[inside]
    win = zin <= zbuf[flat]
    out = torch.full((bsz * size * size,), -1, dtype=torch.long, device=verts.device)
    out.scatter_reduce_(0, flat[win], tid[win], reduce="amax")  # a deterministic tie-break
    return out.view(bsz, size, size)


def rasterize(verts: torch.Tensor, faces: torch.Tensor, size: int) -> Raster:
    """Visible triangle and differentiable barycentric coordinates per pixel (see the module notes)."""
    tri = visible_triangles(verts, faces, size)
    bsz = len(verts)
    ys, xs = torch.meshgrid(torch.arange(size, device=verts.device), torch.arange(size, device=verts.device),
                            indexing="ij")
    p = torch.stack([xs, ys], -1).to(verts.dtype).expand(bsz, size, size, 2)
    safe = tri.clamp(min=0)
    corners = faces[safe]  # (B,H,W,3)
    bidx = torch.arange(bsz, device=verts.device).view(-1, 1, 1, 1)
    v2 = verts[..., :2] * size - 0.5
    pts = v2[bidx, corners]  # (B,H,W,3,2)
    w = _barycentric(p, pts[..., 0, :], pts[..., 1, :], pts[..., 2, :])
    w = torch.where((tri >= 0).unsqueeze(-1), w, torch.zeros_like(w))
    return Raster(tri=tri, bary=w)


def interpolate(attr: torch.Tensor, faces: torch.Tensor, raster: Raster) -> torch.Tensor:
    """Blend per-vertex attributes (B,V,C) -> (B,H,W,C); zero on the background."""
    corners = faces[raster.tri.clamp(min=0)]  # (B,H,W,3)
    bidx = torch.arange(len(attr), device=attr.device).view(-1, 1, 1, 1)
    vals = attr[bidx, corners]  # (B,H,W,3,C)
    return (raster.bary.unsqueeze(-1) * vals).sum(-2)


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals (B,V,3) of right-handed triangle winding (zero off the surface)."""
    a, b, c = verts[:, faces[:, 0]], verts[:, faces[:, 1]], verts[:, faces[:, 2]]
    fn = torch.cross(b - a, c - a, dim=-1)
    n = torch.zeros_like(verts)
    for k in range(3):
        n = n.index_add(1, faces[:, k], fn)
    return n / n.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def sh_basis(n: torch.Tensor) -> torch.Tensor:
    """The 9 real spherical harmonics up to order 2 at unit normals (...,3) (constants folded into
    the learned lighting coefficients, as in DECA's Lambertian model)."""
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    one = torch.ones_like(x)
    return torch.stack([one, x, y, z, x * y, x * z, y * z, x * x - y * y, 3 * z * z - 1], -1)
