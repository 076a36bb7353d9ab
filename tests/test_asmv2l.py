"""AsmV2L: Table-1 shapes, a tiny training run, exact resume, text binding, renderer gradients.

A small region-localised stand-in morphable model and synthetic rendered faces keep these tests at a
few seconds on a CPU and independent of the shipped model.
"""
from __future__ import annotations

import hashlib
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from facelens.core.face.asmv2l import checkpoint as ckpt
from facelens.core.face.asmv2l.network import AsmConfig, AsmV2L
from facelens.core.face.asmv2l.regions import REGIONS, vertex_regions
from facelens.core.face.asmv2l.render import interpolate, rasterize
from facelens.core.face.asmv2l.text import describe
from facelens.core.face.geometry import EXPRESSION_NAMES, template
from facelens.core.face.topology import triangles
from facelens.core.training.asmv2l.data import FrameSet
from facelens.core.training.asmv2l.train import Trainer, TrainOptions

FACES = np.asarray(triangles(), dtype=np.int64)
MOUTH = REGIONS.index("mouth")


@pytest.fixture(autouse=True)
def one_thread():
    """Small tensors on a shared machine: one intra-op thread is ~10x faster than several."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def standin_morph() -> SimpleNamespace:
    """Mean = template; 3 identity directions over the whole face; 3 expression components, each
    moving one region only (mouth, brows, eyes)."""
    t = np.asarray(template(), np.float64)
    reg = vertex_regions(t)
    rng = np.random.default_rng(0)
    ident = rng.normal(size=(3, 478, 3))
    ident /= np.linalg.norm(ident.reshape(3, -1), axis=1)[:, None, None]
    expr = np.zeros((3, 478, 3))
    for k, name in enumerate(("mouth", "brows", "eyes")):
        expr[k, reg == REGIONS.index(name), 1] = 1.0
    expr /= np.linalg.norm(expr.reshape(3, -1), axis=1)[:, None, None]
    return SimpleNamespace(mean=t.astype(np.float32), identity_basis=ident, expression_basis=expr,
                           identity_sd=np.full(3, 0.5), expression_sd=np.full(3, 0.8))


def tiny_cfg(**kw) -> AsmConfig:
    return AsmConfig.small(3, 3, input_size=64, map_size=2, render_size=32, global_dim=64, hidden=32,
                           decoder_channels=(32, 16, 16, 8, 8), **kw)


def synthetic_frames(n: int = 12, seed: int = 0) -> FrameSet:
    """Faces rendered from known coefficients and poses (grey albedo, light from the front)."""
    morph = standin_morph()
    net = AsmV2L(tiny_cfg(), morph, FACES)
    g = torch.Generator().manual_seed(seed)
    ids, exps = torch.randn(n, 3, generator=g), torch.randn(n, 3, generator=g)
    pose = torch.zeros(n, 6)
    pose[:, :3] = 0.15 * torch.randn(n, 3, generator=g)
    pose[:, 3:5] = 0.5 + 0.03 * torch.randn(n, 2, generator=g)
    pose[:, 5] = np.log(0.045) + 0.05 * torch.randn(n, generator=g)
    with torch.no_grad():
        posed = net.project(net.shape(ids, exps), pose)
        r = rasterize(posed, net.faces, 64)
        shade = 0.3 + 0.6 * torch.rand(478, 1, generator=g).expand(478, 3)
        img = interpolate(shade.expand(n, 478, 3), net.faces, r)
        img = torch.where(r.mask.unsqueeze(-1), img, torch.full_like(img, 0.15))
    crops = (img.numpy() * 255).round().astype(np.uint8)
    return FrameSet(crops=crops, landmarks=posed.numpy().astype(np.float32), pose=pose.numpy(),
                    id_coef=ids.numpy(), exp_coef=exps.numpy(), measures=np.random.default_rng(seed).normal(size=(n, 20)).astype(np.float32),
                    session=np.array([f"s{k}" for k in range(n)]), source=np.array([f"f{k}" for k in range(n)]),
                    label=np.array([""] * n), valence=np.full(n, np.nan, np.float32), arousal=np.full(n, np.nan, np.float32))


class FakeEncoder:
    """Deterministic 384-d unit vectors per phrase (stands in for MiniLM where its meaning is not tested)."""

    def encode(self, phrases):
        out = []
        for p in phrases:
            seed = int.from_bytes(hashlib.sha256(p.encode()).digest()[:4], "little")  # stable across processes
            v = np.random.default_rng(seed).normal(size=384)
            out.append(v / np.linalg.norm(v))
        return np.asarray(out, np.float32)


def test_table1_shapes():
    net = AsmV2L(AsmConfig.table1(3, 3), standin_morph(), FACES).eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 224, 224))
    assert out["feature_map"].shape == (1, 512, 6, 6)
    assert out["dense"].shape == (1, 32, 192, 192)
    assert out["global"].shape == (1, 1024)
    assert out["id"].shape == (1, 3) and out["exp"].shape == (1, 3) and out["pose"].shape == (1, 6)
    assert out["light"].shape == (1, 3, 9) and out["albedo"].shape == (1, 16)
    assert len(FACES) == 852


def test_tiny_training_loss_falls(tmp_path):
    frames = synthetic_frames()
    opts = TrainOptions(epochs=8, batch_size=4, val_frac=0.0, lr=3e-3, checkpoint_every=1000)
    tr = Trainer(frames, standin_morph(), FACES, tiny_cfg(), opts, tmp_path, log=lambda s: None, encoder=FakeEncoder())
    hist = tr.run(progress=False)
    # deterministic run (seeded, stable fake text): landmark 0.155 -> 0.098, total 0.49 -> 0.37
    assert hist[-1]["landmark"] < 0.75 * hist[0]["landmark"]
    assert hist[-1]["total"] < 0.85 * hist[0]["total"]
    assert (tmp_path / "training_log.csv").is_file() and (tmp_path / "training_log.png").is_file()


def test_resume_continues_exactly(tmp_path):
    frames = synthetic_frames(10)
    opts = TrainOptions(epochs=2, batch_size=4, val_frac=0.2, checkpoint_every=1000)
    kw = {"log": lambda s: None, "encoder": FakeEncoder()}
    whole = Trainer(frames, standin_morph(), FACES, tiny_cfg(), opts, tmp_path / "a", **kw)
    whole.run(progress=False)
    part = Trainer(frames, standin_morph(), FACES, tiny_cfg(), opts, tmp_path / "b", **kw)
    part.run(progress=False, stop_after_steps=3)  # interrupted inside the second epoch
    assert part.epoch == 1 and part.step == 1
    resumed = Trainer(frames, standin_morph(), FACES, tiny_cfg(), opts, tmp_path / "b", **kw)
    resumed.run(progress=False)
    a, b = whole.net.state_dict(), resumed.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert whole.history[-1]["total"] == resumed.history[-1]["total"]


def _text_net() -> AsmV2L:
    torch.manual_seed(1)
    net = AsmV2L(tiny_cfg(), standin_morph(), FACES).eval()
    with torch.no_grad():  # as after training: non-zero FiLM generator and expression head
        net.film.normal_(0, 0.3)
        net.exp_out.weight.normal_(0, 0.3)
    return net


def test_text_changes_output_and_binds_to_its_region():
    from facelens.core.face.asmv2l.text import default_encoder

    net = _text_net()
    enc = default_encoder()  # the real all-MiniLM-L6-v2, offline
    img = torch.rand(1, 3, 64, 64)
    base = enc.encode(["brows relaxed", "eyes open and relaxed", "cheeks relaxed", "nose relaxed",
                       "mouth relaxed", "jaw relaxed"])
    text = torch.from_numpy(base)[None].clone().requires_grad_(True)
    out = net(img, text)
    other = text.detach().clone()
    other[0, MOUTH] = torch.from_numpy(enc.encode(["lip corners pulled down and lips parted"])[0])
    assert not torch.allclose(out["exp"], net(img, other)["exp"], atol=1e-6)
    # gradient of each expression parameter w.r.t. the mouth phrase: the mouth component takes it
    grads = []
    for k in range(3):
        (g,) = torch.autograd.grad(out["exp"][0, k], text, retain_graph=True)
        grads.append(float(g[0, MOUTH].norm()))
    assert grads[0] / sum(grads) > 0.9, grads  # component 0 moves the mouth only
    # without text the learned defaults are used and the output is defined
    assert torch.isfinite(net(img)["exp"]).all()


def test_renderer_gradients_match_finite_differences():
    torch.manual_seed(0)
    net = AsmV2L(tiny_cfg(), standin_morph(), FACES).double()
    pose = torch.tensor([[0.1, -0.05, 0.02, 0.5, 0.5, np.log(0.045)]], dtype=torch.float64)
    verts = net.project(net.shape(torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, 3, dtype=torch.float64)), pose)
    verts = verts.detach().requires_grad_(True)
    colours = torch.rand(1, 478, 3, dtype=torch.float64, requires_grad=True)
    weights = torch.rand(1, 24, 24, 3, dtype=torch.float64)

    def loss(v, c):
        return (interpolate(c, net.faces, rasterize(v, net.faces, 24)) * weights).sum()

    loss(verts, colours).backward()
    eps = 1e-6
    rng = np.random.default_rng(0)
    seen = set(FACES[:, 0])
    for vi in rng.choice(sorted(seen), 12, replace=False):
        for c in (0, 1):
            d = torch.zeros_like(verts)
            d[0, vi, c] = eps
            fd = (loss(verts + d, colours) - loss(verts - d, colours)) / (2 * eps)
            assert abs(float(fd) - float(verts.grad[0, vi, c])) < 1e-4 * max(1.0, abs(float(fd)))
        d = torch.zeros_like(colours)
        d[0, vi, 0] = eps
        fd = (loss(verts, colours + d) - loss(verts, colours - d)) / (2 * eps)
        assert abs(float(fd) - float(colours.grad[0, vi, 0])) < 1e-6
    assert float(verts.grad.abs().sum()) > 0


def test_text_rules():
    med, sd = np.zeros(20), np.ones(20)
    m = np.zeros(20)
    assert describe(m, med, sd) == ["brows relaxed", "eyes open and relaxed", "cheeks relaxed", "nose relaxed",
                                    "mouth relaxed", "jaw relaxed"]
    m[EXPRESSION_NAMES.index("mouth_open")] = 2.0
    m[EXPRESSION_NAMES.index("lip_corner_pull_l")] = m[EXPRESSION_NAMES.index("lip_corner_pull_r")] = 2.0
    assert describe(m, med, sd, "happy")[MOUTH] == "happy face, lip corners pulled up and lips parted"


def test_bad_checkpoint_is_one_line_error(tmp_path):
    bad = tmp_path / "x.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match="not an AsmV2L checkpoint"):
        ckpt.load(bad)
    with pytest.raises(ckpt.CheckpointError, match="not found"):
        ckpt.load(tmp_path / "missing.pt")
