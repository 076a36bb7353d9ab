"""The torch port of mediapipe's face models against mediapipe itself, on the real recordings.

Reference outputs come from mediapipe 0.10.21 running its own graphs (``FaceDetection`` with
the short-range model; ``FaceMesh(refine_landmarks=True, max_num_faces=1)``) on the same
frames; the torch modules must agree within 0.5 px on landmarks, one frame at a time and in
consecutive-frame batches.
"""
from __future__ import annotations

import itertools

import mediapipe as mp
import numpy as np
import pytest
import torch

from facelens.core.face.torchface import custom_ops, roi
from facelens.core.face.torchface.detector import FaceDetector, ssd_anchors
from facelens.core.face.torchface.graph import _same_pad
from facelens.core.face.torchface.mesh import MESH_FILE, refinement_indices
from facelens.core.face.torchface.tflite import mediapipe_model_path, read_model
from facelens.core.common.devices import DeviceError, resolve_device
from facelens.core.face.torchface.tracker import TorchFaceTracker
from facelens.core.common.types import Quality

TOL_PX = 0.5


def _frames(media, rel: str, n: int, fps: float = 10.0) -> list[np.ndarray]:
    from facelens.core.media.video import open_media

    with open_media(media / rel) as s:
        return [f.rgb for f in itertools.islice(s.iter_sampled(fps=fps), n)]


def _mediapipe_mesh(frames: list[np.ndarray]) -> list[np.ndarray | None]:
    out: list[np.ndarray | None] = []
    with mp.solutions.face_mesh.FaceMesh(max_num_faces=1, refine_landmarks=True) as fm:
        for f in frames:
            h, w = f.shape[:2]
            r = fm.process(f)
            if not r.multi_face_landmarks:
                out.append(None)
                continue
            lm = r.multi_face_landmarks[0].landmark
            out.append(np.array([(p.x * w, p.y * h, p.z * w) for p in lm]))
    return out


@pytest.fixture(scope="module")
def tracker():
    t = TorchFaceTracker(device="cpu")
    yield t
    t.close()


# --- the file reader and the executor's building blocks -----------------------------------
def test_reader_folds_float16_weights_and_finds_custom_ops():
    det = read_model(mediapipe_model_path("modules/face_detection/face_detection_short_range.tflite"))
    kinds = {op.kind for op in det.ops}
    assert kinds == {"CONV_2D", "DEPTHWISE_CONV_2D", "RELU", "ADD", "PAD", "RESHAPE", "MAX_POOL_2D",
                     "CONCATENATION"}  # DEQUANTIZE folded away
    conv = next(op for op in det.ops if op.kind == "CONV_2D")
    assert det.tensors[conv.inputs[1]].data.dtype == np.float32
    mesh = read_model(mediapipe_model_path(MESH_FILE))
    custom = [op.kind for op in mesh.ops if op.kind[0].isupper() and not op.kind.isupper()]
    assert sorted(set(custom)) == ["Landmarks2TransformMatrix", "TransformLandmarks",
                                   "TransformTensorBilinear"]
    idx = refinement_indices(mesh)
    assert [len(idx[k]) for k in ("lips", "left_eye", "right_eye")] == [80, 71, 71]
    assert idx["left_eye"][0] == 33 and idx["right_eye"][0] == 263


def test_tf_same_padding_is_asymmetric_and_anchor_count():
    assert _same_pad(128, 3, 2) == (0, 1)  # the odd pixel goes bottom/right
    assert _same_pad(128, 5, 1) == (2, 2)
    a = ssd_anchors()
    assert a.shape == (896, 2)
    assert np.allclose(a[0], [1 / 32, 1 / 32]) and np.allclose(a[512], [1 / 16, 1 / 16])


def test_transform_tensor_bilinear_matches_reference_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, 4, 12, 12)).astype(np.float32)
    m = np.eye(4, dtype=np.float32)
    m[0, :2], m[1, :2], m[0, 3], m[1, 3] = [0.7, 0.2], [-0.2, 0.7], 1.3, -0.4  # partly outside
    out = custom_ops.transform_tensor_bilinear(torch.from_numpy(x), torch.from_numpy(m)[None],
                                               {"output_height": 8, "output_width": 8}).numpy()
    # straight transcription of the kernel's per-pixel rule (version 2)
    tx = m[0, 3] + m[0, 0] * 0.5 + m[0, 1] * 0.5 - 0.5
    ty = m[1, 3] + m[1, 0] * 0.5 + m[1, 1] * 0.5 - 0.5
    ref = np.zeros((4, 8, 8), np.float32)
    for oy, ox in itertools.product(range(8), range(8)):
        px, py = m[0, 0] * ox + m[0, 1] * oy + tx, m[1, 0] * ox + m[1, 1] * oy + ty
        if px < 0 or py < 0 or px > 11 or py > 11:
            continue
        x0, y0 = int(np.floor(px)), int(np.floor(py))
        fx, fy = px - x0, py - y0

        def at(yy: int, xx: int) -> np.ndarray:
            return x[0, :, yy, xx] if yy < 12 and xx < 12 else np.zeros(4, np.float32)

        up = (1 - fx) * at(y0, x0) + fx * at(y0, x0 + 1)
        lo = (1 - fx) * at(y0 + 1, x0) + fx * at(y0 + 1, x0 + 1)
        ref[:, oy, ox] = fy * lo + (1 - fy) * up
    assert np.abs(out[0] - ref).max() < 1e-5
    assert (ref == 0).any()  # the test does exercise the out-of-bounds rule


def test_crop_matches_mediapipe_opencv_warp():
    """The device crop equals mediapipe's CPU warp (cv2.boxPoints + getPerspectiveTransform)."""
    import cv2

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (0, 0), 3)  # smooth, so 1/32-px fixed-point steps barely matter
    cx, cy, side, rot = 55.0, 40.0, 50.0, 0.3
    box = cv2.boxPoints(((cx, cy), (side, side), rot * 180 / np.pi)).astype(np.float32)
    dst = np.array([[0, 32], [0, 0], [32, 0], [32, 32]], np.float32)
    ref = cv2.warpPerspective(img, cv2.getPerspectiveTransform(box, dst), (32, 32),
                              flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    t = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    out = roi.crop(t, torch.tensor([[cx, cy, side, side, rot]]), 32, "replicate")[0]
    diff = np.abs(out.permute(1, 2, 0).numpy() - ref.astype(np.float32))
    assert diff.max() <= 2 and diff.mean() < 0.3


# --- against mediapipe's own outputs on real recordings -------------------------------------
@pytest.mark.parametrize("rel", ["videos/pyfeat_single_face.mp4", "videos/liveportrait_d3.mp4"])
def test_detector_matches_mediapipe(media, rel):
    frame = _frames(media, rel, 1)[0]
    h, w = frame.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=0.5) as fd:
        ref = fd.process(frame).detections[0]
    bb = ref.location_data.relative_bounding_box
    ref_box = np.array([bb.xmin * w, bb.ymin * h, bb.width * w, bb.height * h])
    ref_kp = np.array([[k.x * w, k.y * h] for k in ref.location_data.relative_keypoints])
    det = FaceDetector().eval()
    ours = det.detect(torch.from_numpy(frame).permute(2, 0, 1)[None].float())[0][0]
    assert abs(ours.score - ref.score[0]) < 1e-3
    assert np.abs(ours.box - ref_box).max() < 0.05
    assert np.abs(ours.keypoints - ref_kp).max() < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("rel,n", [("videos/pyfeat_single_face.mp4", 10), ("videos/liveportrait_d3.mp4", 10)])
def test_tracker_matches_mediapipe_unbatched_and_batched(media, tracker, rel, n):
    frames = _frames(media, rel, n)
    ref = _mediapipe_mesh(frames)
    assert all(r is not None for r in ref)
    tracker.reset()
    seq = [tracker.process(f) for f in frames]
    tracker.reset()
    bat = tracker.process_batch(frames)
    assert len(bat) == n
    for label, obs in (("unbatched", seq), ("batched", bat)):
        for i, (o, r) in enumerate(zip(obs, ref)):
            assert o.landmarks is not None and o.landmarks.shape == (478, 3), (label, i)
            err = np.abs(o.landmarks[:, :2] - r[:, :2]).max()
            assert err < TOL_PX, f"{label} frame {i}: {err:.3f} px"
            assert np.abs(o.landmarks[:, 2] - r[:, 2]).max() < 1.0, (label, i)
            assert o.quality in (Quality.OK, Quality.MULTIPLE_FACES, Quality.MOTION_BLUR)
            assert 0.5 <= o.confidence <= 1.0 and o.n_faces >= 1
            assert np.allclose(o.bbox, [*o.landmarks[:, :2].min(0), *o.landmarks[:, :2].max(0)])


@pytest.mark.slow
def test_losing_and_finding_the_face_batched_equals_unbatched(media, tracker):
    face = _frames(media, "videos/pyfeat_single_face.mp4", 3)
    blank = np.zeros_like(face[0])
    frames = [blank, face[0], face[1], blank, face[2]]
    tracker.reset()
    seq = [tracker.process(f) for f in frames]
    tracker.reset()
    bat = tracker.process_batch(frames)
    for o in (seq, bat):
        assert [x.quality == Quality.NO_FACE for x in o] == [True, False, False, True, False]
        assert o[0].landmarks is None and o[0].n_faces == 0
    for a, b in zip(seq, bat):
        if a.landmarks is not None:
            assert np.abs(a.landmarks - b.landmarks).max() < 0.1


def test_device_choice_and_bad_input():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"
    for bad in ("gpu", "cuda:x", "cudax", ""):
        with pytest.raises(DeviceError, match="unknown device"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="sees no CUDA GPU"):
            resolve_device("cuda")
    else:
        with pytest.raises(DeviceError, match="CUDA GPU"):
            resolve_device(f"cuda:{torch.cuda.device_count()}")
    given = TorchFaceTracker(device=torch.device("cpu"))
    assert given.device.type == "cpu"
    given.close()
    t = TorchFaceTracker(device="auto")
    assert t.implementation == "torch" and t.device.type == expected
    with pytest.raises(ValueError):
        t.process(np.zeros((10, 10), np.uint8))
    t.close()
    with pytest.raises(RuntimeError):
        t.process(np.zeros((10, 10, 3), np.uint8))


@pytest.mark.slow
def test_pipeline_torch_backend_matches_mediapipe_backend(media, analysed, tmp_path):
    """Whole analysis with ``backend="torch"`` on the CPU: same VA (0.02) and landmarks (0.5 px)."""
    from facelens.core.analysis.pipeline import analyze_to_file
    from facelens.core.results import SessionResults

    rel = "videos/pyfeat_single_face.mp4"
    ref_path = analysed(rel)
    out = analyze_to_file(media / rel, tmp_path / "torch.h5", fps=10.0, backend="torch", device="auto")
    with SessionResults.open(ref_path) as ref, SessionResults.open(out) as ours:
        assert ours.params["backend"] == "torch"
        assert ours.params["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
        assert ours.n_frames == ref.n_frames
        assert np.array_equal(ours.quality, ref.quality)
        both = ours.usable & ref.usable
        assert both.sum() >= 0.8 * ref.n_frames
        lm_err = np.abs(ours.landmarks(slice(None))[both][..., :2] - ref.landmarks(slice(None))[both][..., :2])
        assert np.nanmax(lm_err) < TOL_PX
        for name in ("valence", "arousal"):
            a, b = getattr(ours, name)[both], getattr(ref, name)[both]
            assert np.nanmax(np.abs(a - b)) < 0.02, name
