"""Emotion models: the torch port of the FER2013 mini-Xception against Keras outputs, preprocessing,
batching, and the user-provided ONNX loaders (HSEmotion, insightface SCRFD) on generated models."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from facelens.core.affect.crops import fer_face_crop, gray_face_crop, square_box
from facelens.core.affect.fer import FER_LABELS, FerEmotionModel
from facelens.core.registry import registry

REF = json.loads((Path(__file__).parent / "data" / "keras_reference.json").read_text())


@pytest.fixture(scope="module")
def fer():
    registry.fetch("fer2013-mini-xception", log=lambda s: None)
    model = FerEmotionModel(device="cpu")
    assert model.backend == "onnxruntime", model.notice  # onnxruntime is a dependency: the fast path must load
    return model


@pytest.fixture(scope="module")
def fer_torch():
    registry.fetch("fer2013-mini-xception", log=lambda s: None)
    return FerEmotionModel(device="cpu", backend="torch")


def _reference_inputs(media: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    import cv2

    rng = np.random.default_rng(20260101)
    noise = rng.uniform(-1, 1, size=(4, 64, 64)).astype(np.float32)
    r = np.linspace(-1, 1, 64, dtype=np.float32)
    grad = np.stack([np.add.outer(r, r) / 2, np.add.outer(r, -r) / 2]).astype(np.float32)
    img = cv2.cvtColor(cv2.imread(str(media / "images" / "pyfeat_happy_single_face.jpg")), cv2.COLOR_BGR2RGB)
    crops = [fer_face_crop(img, np.array(b)) for b in REF["inputs"][2]["boxes"]]
    return np.concatenate([noise, grad]), crops


@pytest.mark.parametrize("backend", ["onnxruntime", "torch"])
def test_port_matches_keras(backend, fer, fer_torch, media):
    fer = fer if backend == "onnxruntime" else fer_torch
    assert fer.backend == backend
    assert list(REF["labels"]) == list(FER_LABELS)
    synthetic, crops = _reference_inputs(media)
    ref = np.array(REF["probs"])
    p = fer.predict(synthetic)
    assert np.abs(p - ref[:6]).max() <= 1e-5
    # the image crops: same pixels as when the reference was made (pins the JPEG decoder), same output
    assert [hashlib.sha256(c.tobytes()).hexdigest() for c in crops] == REF["inputs"][2]["crop_sha256"]
    p = fer.predict(fer.preprocess(np.stack(crops)))
    assert np.abs(p - ref[6:]).max() <= 1e-5
    assert FER_LABELS[int(np.argmax(p[0]))] == "happy"


def test_batching_and_probabilities(fer):
    x = np.random.default_rng(1).uniform(-1, 1, size=(5, 64, 64)).astype(np.float32)
    batch = fer.predict(x)
    single = np.concatenate([fer.predict(x[i:i + 1]) for i in range(5)])
    assert batch.shape == (5, 7) and batch.dtype == np.float32
    np.testing.assert_allclose(batch, single, atol=1e-6)
    np.testing.assert_allclose(batch.sum(axis=1), 1.0, atol=1e-5)


def test_fast_path_equals_torch(fer, fer_torch, media):
    """The onnxruntime path runs the torch module's own weights: same posterior within 1e-5, at batch
    sizes across the torch path's 32-face chunks and at 1 and 2 intra-op threads."""
    import torch

    synthetic, crops = _reference_inputs(media)
    rng = np.random.default_rng(7)
    x = np.concatenate([synthetic, fer.preprocess(np.stack(crops)), rng.uniform(-1, 1, size=(65, 64, 64))])
    for b in (1, 31, 32, 33, len(x)):
        np.testing.assert_allclose(fer.predict(x[:b]), fer_torch.predict(x[:b]), atol=1e-5, rtol=0)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        np.testing.assert_allclose(fer.predict(x), fer_torch.predict(x), atol=1e-5, rtol=0)
    finally:
        torch.set_num_threads(saved)
    # the torch module (the reference, and what gpu_throughput drives directly) is still there
    assert isinstance(fer.net, torch.nn.Module)
    for model in (fer, fer_torch):
        assert model.predict(np.zeros((0, 64, 64), np.float32)).shape == (0, 7)


def test_backend_choice_and_fallback(monkeypatch):
    from facelens.core.affect import fer as fer_mod

    with pytest.raises(ValueError, match="unknown emotion backend"):
        FerEmotionModel(device="cpu", backend="tflite")

    def broken(self, onnx_bytes):
        raise ImportError("no module named onnxruntime")

    monkeypatch.setattr(fer_mod._OrtRunner, "__init__", broken)
    registry.fetch("fer2013-mini-xception", log=lambda s: None)
    model = FerEmotionModel(device="cpu")  # auto: falls back to torch and says why
    assert model.backend == "torch" and "no module named onnxruntime" in model.notice
    assert model.predict(np.zeros((2, 64, 64), np.float32)).shape == (2, 7)
    with pytest.raises(RuntimeError, match="onnxruntime emotion backend unavailable"):
        FerEmotionModel(device="cpu", backend="onnxruntime")
    monkeypatch.undo()

    # a fast path that loads but disagrees with torch is not used (exported afresh, not the stored export)
    monkeypatch.setattr(fer_mod._onnx_cache, "load", lambda weights: None)
    real = fer_mod._OrtRunner.logits
    monkeypatch.setattr(fer_mod._OrtRunner, "logits", lambda self, x, n: real(self, x, n) + np.eye(7)[0] * 1e-3)
    model = FerEmotionModel(device="cpu")
    assert model.backend == "torch" and "differs from torch" in model.notice


def test_preprocessing_follows_fer():
    # a tall box grows sideways about its centre, then 10 px margin on every side
    assert square_box(np.array([100, 50, 140, 150])) == (60, 40, 180, 160)
    assert np.allclose(FerEmotionModel.preprocess(np.array([[0, 255]], np.uint8)), [[-1.0, 1.0]])
    # a box leaving the image is padded with the mean gray of the bottom two rows, like fer
    img = np.zeros((100, 100, 3), np.uint8)
    img[-2:] = 200
    crop = gray_face_crop(img, np.array([-50, -50, 10, 10]), size=64)
    assert crop.shape == (64, 64) and crop[0, 0] == 200 and crop[-1, -1] == 0


def test_subpixel_crop_is_smooth_in_the_box_and_matches_fer_framing():
    """The analysis's crop moves smoothly with the face box (no whole-pixel jumps) and frames the face
    as ``fer`` does; a pre-converted gray frame gives the same pixels; boxes leaving the frame work."""
    import cv2

    from facelens.core.affect.crops import to_gray

    rng = np.random.default_rng(7)
    img = cv2.GaussianBlur(rng.integers(0, 256, size=(240, 320, 3), dtype=np.uint8), (0, 0), 3)
    box = np.array([100.49, 60.0, 180.0, 150.0])
    a = gray_face_crop(img, box).astype(float)
    b = gray_face_crop(img, box + [0.02, 0, 0.02, 0]).astype(float)  # fer's rounding flips here
    ref_a = fer_face_crop(img, box).astype(float)
    ref_b = fer_face_crop(img, box + [0.02, 0, 0.02, 0]).astype(float)
    jump = np.abs(ref_a - ref_b).mean()
    assert jump > 0.4  # the integer box jumps a whole pixel ...
    assert np.abs(a - b).mean() < 0.1 * jump  # ... the sub-pixel crop barely moves
    assert np.abs(a - ref_a).mean() < 6.0  # same framing as fer's crop (up to the pixel and the filter)
    np.testing.assert_array_equal(gray_face_crop(img, box, gray=to_gray(img)), gray_face_crop(img, box))
    edge = np.array([-20.3, 100.0, 60.0, 260.0])
    np.testing.assert_array_equal(gray_face_crop(img, edge, gray=to_gray(img)), gray_face_crop(img, edge))


def test_crop_fast_path_same_pixels():
    """Boxes inside the frame take a shortcut (no copy, no fill gray): same pixels as the general path,
    with and without a pre-converted gray frame."""
    import cv2

    from facelens.core.affect.crops import _cut, to_gray

    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8)
    fill = np.uint8(round(float(to_gray(img[-2:]).mean())))
    # inside, one row below the frame, touching top and bottom, leaving the frame
    for bbox in ([30, 20, 90, 100], [10.4, 30.6, 90.2, 109.5], [50, 10, 130.3, 109.7], [0, 0, 60, 40]):
        box = square_box(np.array(bbox))
        general = cv2.resize(to_gray(_cut(img, box, fill)), (64, 64))
        np.testing.assert_array_equal(fer_face_crop(img, np.array(bbox)), general)
        np.testing.assert_array_equal(fer_face_crop(img, np.array(bbox), gray=to_gray(img)), general)


# -- HSEmotion-format ONNX -----------------------------------------------------------------------
def make_hsemotion_onnx(path: Path, weights: np.ndarray, bias: np.ndarray, batch: int | str = "B") -> None:
    """(B,3,224,224) -> spatial mean (B,3) -> affine -> (B,10): same signature as HSEmotion VA models."""
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, 224, 224])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, [batch, 10])
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "W", "b"], ["output"]),
    ]
    init = [numpy_helper.from_array(weights.astype(np.float32), "W"), numpy_helper.from_array(bias.astype(np.float32), "b")]
    graph = helper.make_graph(nodes, "hse_like", [x], [y], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def test_hsemotion_loader_and_stage_preference(tmp_path, monkeypatch):
    from facelens.core.affect.hsemotion import HSE_LABELS, HSEmotionModel
    from facelens.core.affect.stage import AffectStage
    from facelens.core.common.types import FaceObservation, Quality

    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(3, 10)), rng.normal(size=10) * 0.1
    user = tmp_path / "user"
    user.mkdir()
    make_hsemotion_onnx(user / "hsemotion.onnx", w, b)
    model = HSEmotionModel(user / "hsemotion.onnx", device="cpu")
    crops = rng.integers(0, 256, size=(4, 224, 224, 3), dtype=np.uint8)
    emo, va = model.predict(model.preprocess(crops))
    # expected: the affine map of the normalised channel means, softmax over 8, contempt dropped
    means = model.preprocess(crops).mean(axis=(2, 3))
    out = means @ w + b
    p8 = np.exp(out[:, :8] - out[:, :8].max(1, keepdims=True))
    p8 /= p8.sum(1, keepdims=True)
    order = [HSE_LABELS.index(n) for n in ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")]
    p7 = p8[:, order] / p8[:, order].sum(1, keepdims=True)
    np.testing.assert_allclose(emo, p7, atol=1e-5)
    np.testing.assert_allclose(va, np.clip(out[:, 8:], -1, 1), atol=1e-5)

    monkeypatch.setenv("FACELENS_MODELS_DIR", str(user))
    registry.fetch("fer2013-mini-xception", log=lambda s: None)
    default = AffectStage.default(device="cpu")  # G, the default estimator, reads FER2013: the user is told
    assert default.va_kind == "g" and not default.uses_model_va
    assert any("hsemotion.onnx is used only with --va circumplex" in n for n in default.notices)
    stage = AffectStage.default(device="cpu", va="circumplex")
    assert stage.uses_model_va and stage.model_cards()[0]["id"] == "hsemotion-onnx"
    frames = [rng.integers(0, 256, size=(120, 160, 3), dtype=np.uint8) for _ in range(3)]
    box = np.array([40, 20, 120, 100], np.float32)
    obs = [FaceObservation(Quality.OK, bbox=box), FaceObservation(Quality.NO_FACE), FaceObservation(Quality.OK, bbox=box)]
    res = stage.process(frames, obs, np.zeros((3, 0)), np.array([0.0, 0.1, 0.2]))
    assert np.isnan(res["emotions"][1]).all() and np.isnan(res["valence"][1])
    assert np.isfinite(res["emotions"][[0, 2]]).all() and np.isfinite(res["arousal"][[0, 2]]).all()

    # a file with the wrong signature is refused with one line, and the stage falls back to FER2013
    make_hsemotion_onnx(user / "hsemotion.onnx", rng.normal(size=(3, 10)), b)  # fine
    bad = onnx.load(user / "hsemotion.onnx")
    bad.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 112
    bad.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 112
    onnx.save(bad, user / "hsemotion.onnx")
    with pytest.raises(ValueError, match="expected \\(B, 3, 224, 224\\)"):
        HSEmotionModel(user / "hsemotion.onnx")
    stage = AffectStage.default(device="cpu", va="circumplex")
    assert not stage.uses_model_va and any("ignored hsemotion.onnx" in n for n in stage.notices)


# -- insightface SCRFD-format ONNX -------------------------------------------------------------------
def make_scrfd_like(path: Path, side: int = 640) -> None:
    """Input (1,3,side,side); per stride: score = sigmoid(40 (mean brightness of the cell - 0.5)), box
    distances 1 stride each way, keypoints 0: the I/O layout of insightface's det_10g.onnx."""
    x = helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, side, side])
    nodes = [helper.make_node("ReduceMean", ["input.1"], ["gray"], axes=[1], keepdims=1)]
    init = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("half", 0.5), ("gain", 40.0), ("zero", 0.0), ("one", 1.0))]
    outs = {"score": [], "bbox": [], "kps": []}
    for s in (8, 16, 32):
        n = (side // s) ** 2
        init.append(numpy_helper.from_array(np.array([n, 1], np.int64), f"shape{s}"))
        init.append(numpy_helper.from_array(np.array([2 * n, 1], np.int64), f"shape2_{s}"))
        nodes += [
            helper.make_node("AveragePool", ["gray"], [f"pool{s}"], kernel_shape=[s, s], strides=[s, s]),
            helper.make_node("Sub", [f"pool{s}", "half"], [f"c{s}"]),
            helper.make_node("Mul", [f"c{s}", "gain"], [f"g{s}"]),
            helper.make_node("Sigmoid", [f"g{s}"], [f"sg{s}"]),
            helper.make_node("Reshape", [f"sg{s}", f"shape{s}"], [f"col{s}"]),
            helper.make_node("Concat", [f"col{s}", f"col{s}"], [f"two{s}"], axis=1),  # 2 anchors per cell
            helper.make_node("Reshape", [f"two{s}", f"shape2_{s}"], [f"score_{s}"]),
            helper.make_node("Mul", [f"score_{s}", "zero"], [f"z{s}"]),
            helper.make_node("Add", [f"z{s}", "one"], [f"o{s}"]),
            helper.make_node("Concat", [f"o{s}"] * 4, [f"bbox_{s}"], axis=1),
            helper.make_node("Concat", [f"z{s}"] * 10, [f"kps_{s}"], axis=1),
        ]
        for k, w in (("score", 1), ("bbox", 4), ("kps", 10)):
            outs[k].append(helper.make_tensor_value_info(f"{k}_{s}", TensorProto.FLOAT, [2 * n, w]))
    graph = helper.make_graph(nodes, "scrfd_like", [x], outs["score"] + outs["bbox"] + outs["kps"], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def test_insightface_pack_loader(tmp_path, monkeypatch):
    from facelens.core.affect.insightface_pack import ABSENT_NOTICE, InsightFacePack, PackError, find_pack

    monkeypatch.setenv("FACELENS_MODELS_DIR", str(tmp_path / "user"))
    assert find_pack() == (None, ABSENT_NOTICE)
    pack = tmp_path / "user" / "insightface"
    pack.mkdir(parents=True)
    with pytest.raises(PackError, match="no det_"):
        InsightFacePack(pack)
    make_scrfd_like(pack / "det_10g.onnx")
    det, notice = find_pack()
    assert det is not None and "det_10g" in notice
    # a 1280x640 frame is letterboxed to 640x640 at scale 0.5: a white 64-px square at (640, 64)
    img = np.zeros((640, 1280, 3), np.uint8)
    img[64:128, 640:704] = 255
    faces = det.detect(img)
    assert faces and faces[0].score > 0.99
    # the stride-32 anchor at (320, 32) in model pixels, +-1 stride -> x 288..352, y 0..64, x2 in frame
    boxes = np.array([f.box for f in faces])
    assert np.abs(boxes - np.array([576, 0, 704, 128])).max(axis=1).min() < 1e-3
    assert faces[0].keypoints is not None and faces[0].keypoints.shape == (5, 2)
    assert det.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_stage_fusion_equals_offline_fusion(fer):
    """The evaluation recomputes the fused posterior offline from stored raw FER2013 posteriors
    (facelens.core.affect.evaluation); that must equal what the stage computes live."""
    from facelens.core.affect.stage import AffectStage
    from facelens.core.affect.va import CircumplexVA
    from facelens.core.face.geometry import EXPRESSION_NAMES
    from facelens.core.common.types import FaceObservation, Quality

    stage = AffectStage(fer)
    rng = np.random.default_rng(11)
    n = 40
    frames = [rng.integers(0, 256, size=(90, 120, 3), dtype=np.uint8) for _ in range(n)]
    box = np.array([20, 10, 90, 80], np.float32)
    obs = [FaceObservation(Quality.OK if i % 9 else Quality.NO_FACE, bbox=box) for i in range(n)]
    expr = rng.normal(0, 0.01, size=(n, len(EXPRESSION_NAMES)))
    expr[25:, EXPRESSION_NAMES.index("brow_lower")] += 0.1
    t = np.arange(n) / 10
    outs = [stage.process(frames[i:i + 16], obs[i:i + 16], expr[i:i + 16], t[i:i + 16], include_fer=True)
            for i in range(0, n, 16)]
    live = np.concatenate([o["emotions"] for o in outs])
    raw = np.concatenate([o["emotions_fer"] for o in outs])
    usable = np.array([o.quality == Quality.OK for o in obs])
    offline, v, _ = CircumplexVA().estimate_fused(raw, expr, EXPRESSION_NAMES, t, usable)
    np.testing.assert_array_equal(np.isnan(live), np.isnan(offline))
    np.testing.assert_allclose(live, offline, atol=1e-7, equal_nan=True)
    np.testing.assert_allclose(np.concatenate([o["valence"] for o in outs]), v.astype(np.float32), equal_nan=True)


def test_checked_export_is_stored_and_loads_without_torch(tmp_path, monkeypatch):
    """The second load of the emotion model uses the stored, checked ONNX export: same outputs, no torch."""
    import subprocess
    import sys

    from facelens.core.affect import fer as fer_mod
    from facelens.core.affect.fer import FerEmotionModel
    from facelens.core.registry import registry

    registry.fetch("fer2013-mini-xception", log=lambda s: None)
    first = FerEmotionModel(device="cpu")
    assert first.backend == "onnxruntime"
    stored = fer_mod._onnx_cache.load(first.path)
    assert stored is not None and stored == first._ort.onnx_bytes
    x = np.random.default_rng(3).uniform(-1, 1, size=(5, 64, 64)).astype(np.float32)
    second = FerEmotionModel(device="cpu")
    assert np.array_equal(second.predict(x), first.predict(x))
    from facelens.core.common.threads import nvidia_device_present

    device = "cuda" if nvidia_device_present() else "auto"  # a GPU machine: ask for the CPU explicitly
    device = "cpu" if device == "cuda" else device
    code = ("import sys\nfrom facelens.core.affect.fer import FerEmotionModel\n"
            f"m = FerEmotionModel(device={device!r})\nprint(m.backend, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["onnxruntime", "False"]
