"""Head pose, pose-free mesh and geometric expression measures (Qt-free, numpy only).

Coordinate frames
-----------------
*Image frame*: the tracker's landmarks, x to the right and y down in pixels, z in pixel scale with
smaller z nearer the camera (mediapipe's convention).

*Template frame*: the neutral face template (:func:`template`), derived from MediaPipe's canonical
face model: x toward the subject's left (image right for a frontal face), y up, z toward the camera,
units of centimetres (outer eye corners 8.89 cm apart). It is upright, so renderers can draw it
(and any pose-free mesh) with a ``+y`` up camera.

The two frames differ by ``F = diag(1, -1, -1)`` (a proper rotation, det +1), so the similarity fit
``landmarks ≈ scale * template @ rotation.T + translation`` has a rotation in SO(3):
``HeadPose.rotation`` maps template to image coordinates.

Euler angles (degrees), from the rotation expressed in the y-up frame, ``R_up = F @ rotation =
Ry(yaw) @ Rx(-pitch) @ Rz(roll)``:

* ``yaw`` > 0: the subject turns to their own left (nose moves toward image right).
* ``pitch`` > 0: the subject looks up.
* ``roll`` > 0: the head tilts toward the subject's right shoulder (counter-clockwise in the image).

Expression measures are documented one by one in ``docs/expressions.md``.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from facelens.core.common.types import N_LANDMARKS, FaceObservation, HeadPose, Quality

DATA_DIR = Path(__file__).parent / "data"
# Head-pose limits of a usable frame (degrees): beyond them the mesh fit and the expression measures are
# unreliable (self-occluded half face), so the frame is flagged EXTREME_POSE. The one owner of this rule.
MAX_YAW_DEG = 45.0
MAX_PITCH_DEG = 35.0
TEMPLATE_FILE = DATA_DIR / "face_template.npy"
CANONICAL_VERTICES_FILE = DATA_DIR / "canonical_face_vertices.txt"

# Image frame <-> y-up template frame.
FLIP = np.diag([1.0, -1.0, -1.0])

# Eye contours (16 points each) as in mediapipe's FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE
# (subject's right eye = image left). The test checks them against mediapipe.
RIGHT_EYE_RING = (33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173)
LEFT_EYE_RING = (263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398)
RIGHT_IRIS = (468, 469, 470, 471, 472)  # centre, then +x, up, -x, down (template frame)
LEFT_IRIS = (473, 474, 475, 476, 477)

# Human horizontal visible iris diameter ≈ 11.7 mm (the value mediapipe's iris tracking uses;
# Ablavatski et al. 2020, "Real-time Pupil Tracking from Monocular Video for Digital Puppeteering").
IRIS_RADIUS_CM = 0.585

# Landmarks that move little with expressions: eye corners, nose bridge and tip, forehead midline,
# the sides of the face above the jaw. Mouth, brows, lids, cheeks and jaw are left out on purpose.
STABLE_LANDMARKS = np.array(
    [33, 133, 362, 263,  # eye corners
     168, 6, 197, 195, 5, 4,  # nose bridge and tip
     9, 151, 10, 108, 337,  # forehead
     127, 356, 234, 454, 93, 323, 162, 389, 21, 251]  # face sides and temples
)


def derive_template(vertices_file: Path = CANONICAL_VERTICES_FILE) -> np.ndarray:
    """Build the 478-point neutral template from the 468 canonical-face vertices.

    Parameters
    ----------
    vertices_file
        Text file with 468 rows ``x y z`` (``#`` comments allowed).

    Returns
    -------
    numpy.ndarray
        (478, 3) float64. Iris centres (468, 473) are the mean of their eye's 16-point contour;
        the four iris ring points lie ``IRIS_RADIUS_CM`` away in the order mediapipe uses
        (+x, +y, -x, -y in the template frame), at the centre's depth.
    """
    v = np.loadtxt(vertices_file, comments="#", dtype=np.float64)
    if v.shape != (468, 3):
        raise ValueError(f"expected 468 canonical vertices, got {v.shape}")
    out = np.zeros((N_LANDMARKS, 3))
    out[:468] = v
    offsets = IRIS_RADIUS_CM * np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, -1, 0]], float)
    for ring, iris in ((RIGHT_EYE_RING, RIGHT_IRIS), (LEFT_EYE_RING, LEFT_IRIS)):
        centre = v[list(ring)].mean(axis=0)
        out[list(iris)] = centre + offsets
    return out


@lru_cache(maxsize=1)
def _template_cached() -> np.ndarray:
    t = np.load(TEMPLATE_FILE)
    t.setflags(write=False)
    return t


def template() -> np.ndarray:
    """The neutral upright face template, (478, 3) float64, centimetres, y up (read-only)."""
    return _template_cached()


def _umeyama_batch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares similarity ``dst ≈ s * src @ R.T + t`` for batches (Umeyama 1991).

    ``src`` (K,3), ``dst`` (N,K,3) -> ``R`` (N,3,3), ``t`` (N,3), ``s`` (N,).
    """
    mu_s = src.mean(axis=0)
    mu_d = dst.mean(axis=1)
    xs = src - mu_s
    xd = dst - mu_d[:, None, :]
    var_s = (xs**2).sum() / len(src)
    cov = np.einsum("nki,kj->nij", xd, xs) / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones((len(dst), 3))
    sign[:, 2] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    sign[sign == 0] = 1.0
    rot = np.einsum("nij,nj,njk->nik", u, sign, vt)
    scale = (d * sign).sum(axis=1) / var_s
    trans = mu_d - scale[:, None] * np.einsum("nij,j->ni", rot, mu_s)
    return rot, trans, scale


def euler_from_rotation(rotation: np.ndarray) -> np.ndarray:
    """Yaw, pitch, roll in degrees from template→image rotations, (..., 3, 3) -> (..., 3)."""
    r = FLIP @ np.asarray(rotation, dtype=np.float64)  # y-up frame: Ry(yaw) Rx(-pitch) Rz(roll)
    b = np.arcsin(np.clip(-r[..., 1, 2], -1.0, 1.0))
    yaw = np.arctan2(r[..., 0, 2], r[..., 2, 2])
    roll = np.arctan2(r[..., 1, 0], r[..., 1, 1])
    return np.degrees(np.stack([yaw, -b, roll], axis=-1))


def rotation_from_euler(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Template→image rotation for the given angles (degrees); inverse of :func:`euler_from_rotation`."""
    a, b, c = np.radians([yaw, -pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return FLIP @ ry @ rx @ rz


def head_pose_batch(landmarks: np.ndarray) -> dict[str, np.ndarray]:
    """Head pose for (N,478,3) landmarks; rows with NaN give NaN poses.

    Returns
    -------
    dict
        ``euler`` (N,3) degrees, ``rotation`` (N,3,3), ``translation`` (N,3), ``scale`` (N,),
        the arrays of the results file.
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    n = len(lm)
    dst = lm[:, STABLE_LANDMARKS]
    ok = np.isfinite(dst).all(axis=(1, 2))
    rot = np.full((n, 3, 3), np.nan)
    trans = np.full((n, 3), np.nan)
    scale = np.full(n, np.nan)
    if ok.any():
        rot[ok], trans[ok], scale[ok] = _umeyama_batch(template()[STABLE_LANDMARKS], dst[ok])
    euler = np.full((n, 3), np.nan)
    euler[ok] = euler_from_rotation(rot[ok])
    return {"euler": euler, "rotation": rot, "translation": trans, "scale": scale}


def head_pose(landmarks: np.ndarray) -> HeadPose:
    """Rigid head pose of one (478,3) image-frame mesh by similarity alignment to the template."""
    p = head_pose_batch(np.asarray(landmarks)[None])
    yaw, pitch, roll = (float(x) for x in p["euler"][0])
    return HeadPose(yaw=yaw, pitch=pitch, roll=roll, rotation=p["rotation"][0],
                    translation=p["translation"][0], scale=float(p["scale"][0]))


def posefree_batch(landmarks: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
                   scale: np.ndarray) -> np.ndarray:
    """Undo the similarity transform: (N,478,3) image frame -> template frame (centimetres, y up)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    centred = lm - np.asarray(translation)[:, None, :]
    # a stacked product: one 478x3 by 3x3 product per frame, whatever the batch (same bits for any
    # batch size), ~35x faster than the equivalent einsum
    return np.matmul(centred, np.asarray(rotation, np.float64)) / np.asarray(scale)[:, None, None]


def posefree(landmarks: np.ndarray, pose: HeadPose) -> np.ndarray:
    """The mesh in template coordinates (478,3): pose removed, size normalised to the template."""
    return posefree_batch(np.asarray(landmarks)[None], pose.rotation[None],
                          pose.translation[None], np.array([pose.scale]))[0]


def posefree_fit(landmarks: np.ndarray) -> np.ndarray:
    """``posefree(landmarks, head_pose(landmarks))`` for one (478,3) mesh, bit for bit, without
    the Euler angles and the masking of the batch path (the tracker's occlusion check calls it
    twice per check; ~0.1 ms instead of ~0.3 ms each)."""
    lm = np.asarray(landmarks, dtype=np.float64)
    dst = lm[None, STABLE_LANDMARKS]
    if not np.isfinite(dst).all():
        return np.full(lm.shape, np.nan)  # as head_pose's NaN pose gives
    rot, trans, scale = _umeyama_batch(template()[STABLE_LANDMARKS], dst)
    return posefree_batch(lm[None], rot, trans, scale)[0]


def apply_pose_quality(obs: FaceObservation, pose: HeadPose | None, max_yaw: float = MAX_YAW_DEG,
                       max_pitch: float = MAX_PITCH_DEG) -> FaceObservation:
    """Flag EXTREME_POSE when |yaw| > max_yaw or |pitch| > max_pitch (degrees).

    Only usable frames (OK / MULTIPLE_FACES) are re-flagged: a worse verdict already given by the
    tracker (no face, low confidence, blur) is kept. Returns the same observation object.
    """
    if pose is None or obs.quality not in (Quality.OK, Quality.MULTIPLE_FACES):
        return obs
    if abs(pose.yaw) > max_yaw or abs(pose.pitch) > max_pitch:
        obs.quality = Quality.EXTREME_POSE
    return obs


def extreme_pose_mask(euler: np.ndarray, max_yaw: float = MAX_YAW_DEG,
                      max_pitch: float = MAX_PITCH_DEG) -> np.ndarray:
    """Vectorised EXTREME_POSE test on (N,3) yaw/pitch/roll; NaN rows are False."""
    e = np.asarray(euler)
    with np.errstate(invalid="ignore"):
        return (np.abs(e[:, 0]) > max_yaw) | (np.abs(e[:, 1]) > max_pitch)


# ---------------------------------------------------------------------------------------------
# Expression measures on the pose-free mesh (template frame: x = subject's left, y up, z forward).
# Each is a signed length divided by the face's own inter-ocular distance (outer eye corners,
# 33-263) minus the same quantity on the template, so the template scores 0 everywhere.
# docs/expressions.md gives the landmarks and the FACS action unit each one approximates.

EXPRESSION_NAMES: tuple[str, ...] = (
    "inner_brow_raise_l", "inner_brow_raise_r", "outer_brow_raise_l", "outer_brow_raise_r",
    "brow_lower", "upper_lid_raise_l", "upper_lid_raise_r", "eye_closure", "cheek_raise",
    "nose_wrinkle", "upper_lip_raise", "lip_corner_pull_l", "lip_corner_pull_r",
    "lip_corner_depress", "lip_stretch", "lip_press", "lip_pucker", "mouth_open", "jaw_drop",
    "smile_asymmetry",
)

_LID_PAIRS_L = ((385, 380), (386, 374), (387, 373))  # (upper lid, lower lid)
_LID_PAIRS_R = ((158, 153), (159, 145), (160, 144))
_INNER_LIP_PAIRS = ((13, 14), (82, 87), (312, 317))  # (upper inner lip, lower inner lip)
_SQRT_HALF = np.sqrt(0.5)


def _raw_measures(p: np.ndarray) -> np.ndarray:
    """Unreferenced measures (N, K) of pose-free meshes (N, 478, 3), in inter-ocular units."""
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    iod = np.linalg.norm(p[:, 263] - p[:, 33], axis=1)

    def ym(*idx: int) -> np.ndarray:
        return y[:, list(idx)].mean(axis=1)

    def aperture(pairs: tuple[tuple[int, int], ...]) -> np.ndarray:
        return np.mean([y[:, a] - y[:, b] for a, b in pairs], axis=0)

    inner_l = ym(336, 285) - y[:, 362]
    inner_r = ym(107, 55) - y[:, 133]
    outer_l = ym(300, 276) - y[:, 263]
    outer_r = ym(70, 46) - y[:, 33]
    brow_gap = ((x[:, 336] + x[:, 285]) - (x[:, 107] + x[:, 55])) / 2
    brow_lower = -0.5 * brow_gap - 0.5 * (inner_l + inner_r + outer_l + outer_r) / 4
    lid_l = aperture(_LID_PAIRS_L)
    lid_r = aperture(_LID_PAIRS_R)
    eye_mid_y = ym(33, 133, 362, 263)
    cheek = ym(50, 280, 205, 425, 145, 374) - eye_mid_y
    nose = ym(98, 327, 129, 358) - ym(133, 362)
    upper_lip = ym(0, 37, 267) - y[:, 2]
    # corners relative to the subnasale (2), projected on "up and outward" (45 degrees)
    pull_l = ((x[:, 291] - x[:, 2]) + (y[:, 291] - y[:, 2])) * _SQRT_HALF
    pull_r = (-(x[:, 61] - x[:, 2]) + (y[:, 61] - y[:, 2])) * _SQRT_HALF
    depress = -(ym(61, 291) - ym(13, 14))
    width = np.linalg.norm(p[:, 291] - p[:, 61], axis=1)
    press = -((y[:, 0] - y[:, 13]) + (y[:, 14] - y[:, 17]))
    protrusion = (z[:, 0] + z[:, 17]) / 2 - z[:, 2]
    pucker = 0.5 * (-width) + 0.5 * protrusion
    mouth = aperture(_INNER_LIP_PAIRS)
    jaw = y[:, 2] - y[:, 152]
    raw = np.stack([inner_l, inner_r, outer_l, outer_r, brow_lower, lid_l, lid_r,
                    (lid_l + lid_r) / 2,  # eye_closure: turned into a fraction below
                    cheek, nose, upper_lip, pull_l, pull_r, depress, width, press, pucker, mouth, jaw,
                    pull_l - pull_r], axis=1)
    return raw / iod[:, None]


_EYE_CLOSURE = EXPRESSION_NAMES.index("eye_closure")


@lru_cache(maxsize=1)
def _template_raw() -> np.ndarray:
    return _raw_measures(template()[None])[0]


def expression_measures_posefree(posefree_meshes: np.ndarray) -> np.ndarray:
    """Expression measures (N, K) of pose-free meshes (N, 478, 3); NaN rows stay NaN."""
    p = np.asarray(posefree_meshes, dtype=np.float64)
    raw = _raw_measures(p)
    ref = _template_raw()
    out = raw - ref
    # eye closure as a fraction of the neutral aperture: 0 = template-open, 1 = lids touching
    out[:, _EYE_CLOSURE] = 1.0 - raw[:, _EYE_CLOSURE] / ref[_EYE_CLOSURE]
    return out


def expression_measures_batch(landmarks: np.ndarray, pose: dict[str, np.ndarray] | None = None
                              ) -> np.ndarray:
    """Expression measures (N, K) for image-frame meshes (N, 478, 3).

    ``pose`` is the output of :func:`head_pose_batch` (computed when omitted).
    """
    lm = np.asarray(landmarks, dtype=np.float64)
    if pose is None:
        pose = head_pose_batch(lm)
    p = posefree_batch(lm, pose["rotation"], pose["translation"], pose["scale"])
    return expression_measures_posefree(p).astype(np.float32)


def expression_measures(landmarks: np.ndarray, pose: HeadPose | None = None) -> np.ndarray:
    """Expression vector (K,) float32 of one (478, 3) mesh, ordered as :data:`EXPRESSION_NAMES`."""
    if pose is None:
        pose = head_pose(landmarks)
    return expression_measures_posefree(posefree(landmarks, pose)[None])[0].astype(np.float32)


__all__ = [
    "EXPRESSION_NAMES", "STABLE_LANDMARKS", "apply_pose_quality", "derive_template",
    "euler_from_rotation", "expression_measures", "expression_measures_batch",
    "expression_measures_posefree", "extreme_pose_mask", "head_pose", "head_pose_batch", "posefree",
    "posefree_batch", "rotation_from_euler", "template",
]
