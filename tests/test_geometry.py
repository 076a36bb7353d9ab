"""Head pose, pose-free mesh and expression measures: synthetic checks and real recordings."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from facelens.core.face import geometry as g
from facelens.core.common.types import FaceObservation, Quality

REPO = Path(__file__).resolve().parents[1]


def _image_mesh(yaw: float, pitch: float, roll: float, scale: float = 9.0,
                shift=(320.0, 200.0, 5.0)) -> np.ndarray:
    rot = g.rotation_from_euler(yaw, pitch, roll)
    return scale * g.template() @ rot.T + np.asarray(shift)


def test_stored_template_matches_rederivation():
    np.testing.assert_array_equal(g.derive_template(), np.load(g.TEMPLATE_FILE))
    t = g.template()
    assert t.shape == (478, 3)
    np.testing.assert_allclose(np.linalg.norm(t[263] - t[33]), 8.89, atol=0.01)
    assert t[10, 1] > t[152, 1]  # upright: forehead above chin
    assert t[4, 2] == t[:, 2].max()  # nose tip nearest the viewer


def test_eye_rings_agree_with_mediapipe():
    import mediapipe as mp

    fm = mp.solutions.face_mesh
    assert set(g.RIGHT_EYE_RING) == {i for e in fm.FACEMESH_RIGHT_EYE for i in e}
    assert set(g.LEFT_EYE_RING) == {i for e in fm.FACEMESH_LEFT_EYE for i in e}
    assert set(g.RIGHT_IRIS[1:]) == {i for e in fm.FACEMESH_RIGHT_IRIS for i in e}
    assert set(g.LEFT_IRIS[1:]) == {i for e in fm.FACEMESH_LEFT_IRIS for i in e}


@pytest.mark.parametrize("angles", [(0, 0, 0), (30, 0, 0), (0, 20, 0), (0, 0, -15), (25, -18, 12),
                                    (-40, 30, -25)])
def test_pose_recovered_on_rotated_template(angles):
    rng = np.random.default_rng(1)
    mesh = _image_mesh(*angles) + rng.normal(scale=0.05, size=(478, 3))  # ~0.05 px noise
    pose = g.head_pose(mesh)
    np.testing.assert_allclose([pose.yaw, pose.pitch, pose.roll], angles, atol=0.5)
    assert pose.scale == pytest.approx(9.0, rel=1e-2)
    np.testing.assert_allclose(g.posefree(mesh, pose), g.template(), atol=0.05)


def test_sign_conventions_in_image_terms():
    # yaw +: the subject turns to their left, i.e. the nose tip moves to image right
    assert _image_mesh(20, 0, 0)[4, 0] > _image_mesh(0, 0, 0)[4, 0]
    # pitch +: looks up, the nose tip moves up in the image (smaller y)
    assert _image_mesh(0, 20, 0)[4, 1] < _image_mesh(0, 0, 0)[4, 1]
    # roll +: counter-clockwise in the image: the forehead moves to image left
    assert _image_mesh(0, 0, 20)[10, 0] < _image_mesh(0, 0, 0)[10, 0]


def test_expressions_zero_on_template_and_batch_matches_single():
    assert len(set(g.EXPRESSION_NAMES)) == len(g.EXPRESSION_NAMES) >= 20
    for angles in [(0, 0, 0), (30, -10, 5)]:
        e = g.expression_measures(_image_mesh(*angles))
        assert e.shape == (len(g.EXPRESSION_NAMES),)
        np.testing.assert_allclose(e, 0.0, atol=1e-5)
    meshes = np.stack([_image_mesh(10, 5, 0), _image_mesh(-20, 0, 3)])
    meshes[1, 291, 1] -= 5.0  # pull the left lip corner up in the image
    batch = g.expression_measures_batch(meshes)
    single = np.stack([g.expression_measures(m) for m in meshes])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    i = g.EXPRESSION_NAMES.index
    assert batch[1, i("lip_corner_pull_l")] > 0.02 and batch[1, i("smile_asymmetry")] > 0.02


def test_nan_rows_stay_nan():
    meshes = np.stack([_image_mesh(0, 0, 0), np.full((478, 3), np.nan)])
    pose = g.head_pose_batch(meshes)
    assert np.isfinite(pose["euler"][0]).all() and np.isnan(pose["euler"][1]).all()
    assert np.isnan(g.expression_measures_batch(meshes, pose)[1]).all()


def test_apply_pose_quality():
    ok = FaceObservation(quality=Quality.OK)
    assert g.apply_pose_quality(ok, g.head_pose(_image_mesh(60, 0, 0))).quality == Quality.EXTREME_POSE
    ok = FaceObservation(quality=Quality.MULTIPLE_FACES)
    assert g.apply_pose_quality(ok, g.head_pose(_image_mesh(0, -40, 0))).quality == Quality.EXTREME_POSE
    ok = FaceObservation(quality=Quality.OK)
    assert g.apply_pose_quality(ok, g.head_pose(_image_mesh(40, 30, 40))).quality == Quality.OK
    bad = FaceObservation(quality=Quality.LOW_CONFIDENCE)
    assert g.apply_pose_quality(bad, g.head_pose(_image_mesh(60, 0, 0))).quality == Quality.LOW_CONFIDENCE
    np.testing.assert_array_equal(g.extreme_pose_mask(np.array([[50, 0, 0], [0, 0, 80], [np.nan] * 3])),
                                  [True, False, False])


def test_docs_list_every_expression():
    text = (REPO / "docs" / "expressions.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\|\s*`(\w+)`", text, flags=re.M))
    assert set(g.EXPRESSION_NAMES) <= documented


def _track(path: Path, fps: float = 10.0):
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_media

    with FaceTracker(occlusion_check=False) as tracker, open_media(path) as session:
        for frame in session.iter_sampled(fps):
            yield frame.time_s, tracker.process(frame.rgb)


def test_smile_raises_lip_corner_pull(media):
    times, values = [], []
    for t, obs in _track(media / "videos" / "pyfeat_single_face.mp4"):
        assert obs.landmarks is not None
        e = g.expression_measures(obs.landmarks)
        i = g.EXPRESSION_NAMES.index
        times.append(t)
        values.append((e[i("lip_corner_pull_l")] + e[i("lip_corner_pull_r")]) / 2)
    times, values = np.array(times), np.array(values)
    before, after = values[times < 0.5].mean(), values[times > 1.0].mean()
    assert after - before > 0.08, (before, after)  # ~0.15 inter-ocular units measured


def test_pose_stable_on_still_image_under_small_shifts(media):
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_media

    with open_media(media / "images" / "pyfeat_happy_single_face.jpg") as s:
        rgb = next(iter(s.iter_sampled(10))).rgb
    angles = []
    with FaceTracker(static=True, occlusion_check=False) as tracker:
        for dx, dy in [(0, 0), (0, 0), (3, 0), (0, 4), (6, 5)]:
            shifted = np.pad(rgb, ((dy, 0), (dx, 0), (0, 0)), mode="edge")
            obs = tracker.process(shifted)
            pose = g.head_pose(obs.landmarks)
            angles.append([pose.yaw, pose.pitch, pose.roll])
    angles = np.array(angles)
    assert np.ptp(angles, axis=0).max() < 1.0, angles
