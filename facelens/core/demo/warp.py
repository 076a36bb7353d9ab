"""Expression warps of a still portrait, for the synthetic demo session (Qt-free).

A still photo cannot change expression, so the demo moves groups of face-mesh landmarks
(lip corners, brows, eyelids, jaw) and warps the image so that the pixels follow them. Each key
pose is turned once into a dense *backward* displacement field (output pixel -> where to sample
the portrait), fitted with a thin-plate spline through all 478 landmarks plus fixed points on the
image border; frames then blend these fields linearly by the scripted intensities. Fitting a
spline costs tens of milliseconds, blending two fields and ``cv2.remap`` about a millisecond, which
is why the fields are computed per key pose and never per frame.

A warp only moves existing pixels: it cannot invent the inside of an opened mouth, so the opened
inner-lip region is painted dark. Appearance-based emotion models react only partly to such warps
(the FER2013 model ignores moderate mouth-corner moves, see the project's FACTS; on the full demo
it gives the smile plateaus p(happy) ≈ 0.16 and reads the opened mouth as fear); the
landmark-based expression measures carry the scripted changes.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Inner lip contour of the mediapipe mesh, in order around the mouth opening (upper then lower).
UPPER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
LOWER_LIP = (14, 87, 178, 88, 95, 317, 402, 318, 324, 17, 84, 181, 91, 146, 314, 405, 321, 375)
BROWS = (70, 63, 105, 66, 107, 46, 53, 52, 65, 55, 300, 293, 334, 296, 336, 276, 283, 282, 295, 285)
INNER_BROWS = (107, 55, 66, 65, 336, 285, 296, 295)
UPPER_LIDS = (159, 158, 160, 157, 161, 386, 385, 387, 384, 388)
LOWER_LIDS = (145, 144, 153, 154, 163, 374, 373, 380, 381, 390)
LIP_CORNERS = (61, 291, 78, 308)
CHEEKS = (50, 280, 205, 425, 101, 330, 36, 266)
PORTRAIT_NAME = "grace_hopper.jpg"
PORTRAIT_SOURCE = (
    "matplotlib sample data 'grace_hopper.jpg' (official U.S. Navy portrait of Rear Admiral Grace "
    "Hopper, public domain)"
)


class DemoError(RuntimeError):
    """The demo session cannot be generated (message is one line)."""


@dataclass(frozen=True)
class Move:
    """Displacement of a landmark group, in face widths along the face's own axes.

    ``out`` points away from the face's vertical midline (negative: towards it), ``up`` towards
    the forehead. With ``sigma > 0`` nearby landmarks follow with a Gaussian fall-off (sigma in
    face widths); ``region`` keeps the move above (``"upper"``) or below (``"lower"``) the lip seam,
    so that a jaw drop does not drag the upper lip along with the lower one.
    """

    anchors: tuple[int, ...]
    out: float = 0.0
    up: float = 0.0
    sigma: float = 0.0
    region: str | None = None


# Key poses. Magnitudes are chosen to be clearly visible yet plausible on a 512-px portrait
# (6 % of the face width at the mouth corners is about 11 px here).
KEY_POSES: dict[str, tuple[Move, ...]] = {
    "smile": (
        Move(LIP_CORNERS, out=0.045, up=0.05, sigma=0.045),
        Move(CHEEKS, out=0.01, up=0.022, sigma=0.06),
        Move(LOWER_LIDS, up=0.008),
    ),
    "sad": (
        Move(LIP_CORNERS, out=-0.01, up=-0.045, sigma=0.045),
        Move(INNER_BROWS, out=-0.01, up=0.045, sigma=0.03),
        Move((70, 46, 300, 276), up=-0.006),
    ),
    "surprise": (
        Move(BROWS, up=0.045, sigma=0.03),
        Move(UPPER_LIDS, up=0.012),
        # Jaw drop: the lower lip's centre opens most (an oval, not a box), the chin follows.
        Move((14, 17), up=-0.06, sigma=0.08, region="lower"),
        Move((152,), up=-0.035, sigma=0.3, region="lower"),
        Move((61, 291, 78, 308), out=-0.012, sigma=0.03),
    ),
}


@dataclass(frozen=True)
class FaceAxes:
    """The face's own frame in image pixels: centre, unit right/up vectors, face width."""

    right: np.ndarray
    up: np.ndarray
    width: float
    centre: np.ndarray

    @classmethod
    def from_landmarks(cls, lm: np.ndarray) -> FaceAxes:
        xy = lm[:, :2].astype(np.float64)
        across = xy[454] - xy[234]  # cheek contour points at the widest part of the face
        width = float(np.linalg.norm(across))
        right = across / width
        up = np.array([right[1], -right[0]])  # image y points down: rotate "right" by -90°
        if np.dot(up, xy[10] - xy[152]) < 0:  # forehead (10) must lie "up" of the chin (152)
            up = -up
        return cls(right=right, up=up, width=width, centre=xy.mean(axis=0))


def load_portrait() -> tuple[np.ndarray, str]:
    """The neutral public-domain portrait as RGB uint8 and the SHA-256 of its file."""
    import cv2
    from matplotlib import cbook

    path = cbook.get_sample_data(PORTRAIT_NAME, asfileobj=False)
    data = Path(path).read_bytes()
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise DemoError(f"cannot decode the demo portrait {PORTRAIT_NAME}")
    return np.ascontiguousarray(bgr[:, :, ::-1]), hashlib.sha256(data).hexdigest()


def detect_mesh(rgb: np.ndarray) -> np.ndarray:
    """Face mesh (478, 3) of a still image in pixels (z scaled like x), with mediapipe."""
    import mediapipe as mp

    h, w = rgb.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1
    ) as mesh:
        result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        raise DemoError("mediapipe found no face on the demo portrait")
    pts = result.multi_face_landmarks[0].landmark
    return np.array([[p.x * w, p.y * h, p.z * w] for p in pts], dtype=np.float64)


def pose_displacement(lm: np.ndarray, moves: tuple[Move, ...]) -> np.ndarray:
    """Pixel displacement (478, 2) of every landmark for one key pose at full intensity."""
    axes = FaceAxes.from_landmarks(lm)
    xy = lm[:, :2].astype(np.float64)
    u = (xy - axes.centre) @ axes.right  # across the face, pixels
    v = (xy - axes.centre) @ axes.up  # along the face, pixels (positive towards the forehead)
    seam_v = float(np.mean(v[[78, 308, 13, 14]]))
    disp = np.zeros((len(xy), 2))
    idx = np.arange(len(xy))
    for move in moves:
        anchors = np.asarray(move.anchors)
        # Each landmark follows its nearest anchor (weight 1 on the anchors themselves).
        d2 = ((xy[:, None, :] - xy[None, anchors, :]) ** 2).sum(-1)
        nearest = anchors[np.argmin(d2, axis=1)]
        if move.sigma > 0:
            s = move.sigma * axes.width
            weight = np.exp(-d2.min(axis=1) / (2 * s * s))
        else:
            weight = np.isin(idx, anchors).astype(float)
        # The closed lips touch (their seam points differ by < 1 px), so which lip a seam point
        # belongs to comes from the mesh topology, not from its height.
        upper = np.isin(idx, UPPER_LIP)
        lower = np.isin(idx, LOWER_LIP)
        if move.region == "lower":
            weight = weight * (lower | ((v < seam_v) & ~upper))
        elif move.region == "upper":
            weight = weight * (upper | ((v > seam_v) & ~lower))
        side = np.sign(u[nearest])  # "out" is away from the midline on the anchor's side
        step = (move.out * side)[:, None] * axes.right + move.up * axes.up
        disp += weight[:, None] * step * axes.width
    return disp


def backward_field(
    lm: np.ndarray, disp: np.ndarray, shape: tuple[int, int], grid_px: int = 8
) -> np.ndarray:
    """Dense field (H, W, 2) float32: output pixel + field = where to sample the portrait.

    The thin-plate spline is fitted from the *displaced* landmarks to their original positions
    (a backward map), so an opened mouth maps onto the lip seam instead of folding the image.
    It is evaluated on a coarse grid and upsampled bilinearly: the field is smooth at that scale.
    """
    import cv2
    from scipy.interpolate import RBFInterpolator

    h, w = shape
    src = lm[:, :2].astype(np.float64)
    dst = src + disp
    # Pin the image border so the background stays put.
    bx = np.linspace(0, w - 1, 9)
    by = np.linspace(0, h - 1, 9)
    border = np.concatenate(
        [np.c_[bx, np.zeros(9)], np.c_[bx, np.full(9, h - 1)], np.c_[np.zeros(9), by], np.c_[np.full(9, w - 1), by]]
    )
    centres = np.concatenate([dst, border])
    values = np.concatenate([src - dst, np.zeros_like(border)])
    # A little smoothing keeps the fit well conditioned where landmarks nearly coincide (lip seam).
    spline = RBFInterpolator(centres, values, kernel="thin_plate_spline", smoothing=1e-3)
    gx = np.arange(0, w + grid_px, grid_px, dtype=np.float64)
    gy = np.arange(0, h + grid_px, grid_px, dtype=np.float64)
    mx, my = np.meshgrid(gx, gy)
    coarse = spline(np.c_[mx.ravel(), my.ravel()]).reshape(len(gy), len(gx), 2).astype(np.float32)
    big = cv2.resize(coarse, (len(gx) * grid_px, len(gy) * grid_px), interpolation=cv2.INTER_LINEAR)
    # cv2.resize aligns pixel centres; the half-cell offset is negligible for a smooth field.
    return np.ascontiguousarray(big[:h, :w])


@dataclass
class PoseBank:
    """Per-key-pose landmark displacements and warp fields of one portrait."""

    portrait: np.ndarray  # (H, W, 3) uint8 RGB
    landmarks: np.ndarray  # (478, 3) on the neutral portrait
    displacements: dict[str, np.ndarray]  # pose -> (478, 2)
    fields: dict[str, np.ndarray]  # pose -> (H, W, 2) float32
    _identity: np.ndarray | None = None  # (H, W, 2) pixel coordinates, made on first render

    @classmethod
    def build(cls, portrait: np.ndarray, landmarks: np.ndarray) -> PoseBank:
        shape = (int(portrait.shape[0]), int(portrait.shape[1]))
        disps = {name: pose_displacement(landmarks, moves) for name, moves in KEY_POSES.items()}
        fields = {name: backward_field(landmarks, d, shape) for name, d in disps.items()}
        return cls(portrait, landmarks, disps, fields)

    def render(self, weights: dict[str, float], motion: np.ndarray | None = None) -> np.ndarray:
        """One RGB frame for the given pose intensities and a 2×3 head-motion affine (or none)."""
        import cv2

        h, w = self.portrait.shape[:2]
        if self._identity is None:
            xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
            self._identity = np.dstack([xs, ys])
        sample_at = self._identity.copy()  # one 2-channel map: cv2.remap's fastest float form
        lm = self.landmarks[:, :2].copy()
        for name, wt in weights.items():
            if wt > 1e-4:
                cv2.scaleAdd(self.fields[name], float(wt), sample_at, dst=sample_at)
                lm += wt * self.displacements[name]
        img = cv2.remap(self.portrait, sample_at, None, cv2.INTER_LINEAR,  # type: ignore[call-overload]
                        borderMode=cv2.BORDER_REFLECT)
        img = _paint_mouth_opening(img, lm, self.landmarks[:, :2])
        if motion is not None:
            img = cv2.warpAffine(img, motion, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        return img


def _paint_mouth_opening(img: np.ndarray, lm: np.ndarray, lm0: np.ndarray) -> np.ndarray:
    """Darken the region between the inner lips once they part (a warp cannot show the mouth's inside)."""
    import cv2

    poly = lm[list(INNER_LIP)]
    gap = float(np.linalg.norm(lm[14] - lm[13]) - np.linalg.norm(lm0[14] - lm0[13]))
    if gap < 1.0:  # lips still (nearly) closed
        return img
    x0, y0 = np.floor(poly.min(axis=0)).astype(int) - 4
    x1, y1 = np.ceil(poly.max(axis=0)).astype(int) + 5
    x0, y0 = max(x0, 0), max(y0, 0)
    roi = img[y0:y1, x0:x1]
    mask = np.zeros(roi.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.round((poly - [x0, y0]) * 4).astype(np.int32)], (1.0,), cv2.LINE_AA, shift=2)  # type: ignore[call-overload]
    mask = cv2.GaussianBlur(mask, (5, 5), 1.2)[..., None] * min(1.0, gap / 4.0)
    mouth = np.array([62, 30, 32], np.float32)  # dark red-brown of a shadowed mouth cavity
    out = img.copy()
    out[y0:y1, x0:x1] = (roi * (1 - mask) + mouth * mask).astype(np.uint8)
    return out


class HeadMotion:
    """Slow, small rigid motion (roll ≤ 1.5°, shifts ≤ 3 % of the face width, ≤ 1 % scale) about the face centre.

    A few incommensurate sinusoids with seeded phases: smooth like a seated person's sway, never
    periodic over a minute, and far inside the tracker's pose limits.
    """

    def __init__(self, centre: np.ndarray, face_width: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.centre = (float(centre[0]), float(centre[1]))
        self.freq = rng.uniform(0.04, 0.22, size=(4, 2))  # Hz, two components per degree of freedom
        self.phase = rng.uniform(0, 2 * np.pi, size=(4, 2))
        # Amplitudes: roll degrees, x and y in pixels (~3 % / 2 % of the face width), relative scale.
        self.amp = np.array([1.5, 0.03 * face_width, 0.02 * face_width, 0.01])

    def matrix(self, t: float) -> np.ndarray:
        import cv2

        waves = np.sin(2 * np.pi * self.freq * t + self.phase) @ np.array([0.7, 0.3])
        roll, dx, dy, ds = self.amp * waves
        m = np.asarray(cv2.getRotationMatrix2D(self.centre, float(roll), 1.0 + float(ds)), np.float64)
        m[:, 2] += (dx, dy)
        return m
