"""Nuisance perturbations that the validity harness applies to real recordings.

Every perturbation is deterministic and leaves the person's expression untouched: only what a
different room, camera or upload would change. A measure that moves under them measures the
nuisance, not the face. Families (``FAMILIES``):

* ``lighting``: a multiplicative side-light gradient across the frame, gain ``1 - s`` .. ``1 + s``
  (s = 0.35: one side about twice as bright as the other), in four directions;
* ``exposure``: gamma 0.7 and 1.4, and a global gain of 0.7 (under-exposure);
* ``colour``: a warm cast (R x1.15, B x0.85) and a cool cast (the reverse);
* ``blur``: Gaussian blur, sigma 1.5 px and 3 px (defocus / soft camera);
* ``compression``: downscale to half size and re-encode with H.264 at CRF 40 (a heavily compressed
  upload), decoded and upscaled back; or, where PyAV has no libx264, JPEG quality 15 per frame;
* ``mirror``: left-right flip (a selfie camera);
* ``sampling``: the same recording sampled half a step later (phase offset), or at 15 fps instead
  of 10 fps (handled by :mod:`facelens.core.validation.sampling`, not here).

The strengths are chosen to be clearly visible yet ordinary for consumer recordings; they are
harness settings, not fitted to anything.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

FrameList = list[np.ndarray]
FAMILIES = ("lighting", "exposure", "colour", "blur", "compression", "mirror", "sampling")
GRADIENT_STRENGTH = 0.35
CRF = 40


@dataclass(frozen=True)
class Variant:
    """One perturbed version of a recording.

    ``apply`` maps the sampled RGB frames to perturbed frames (``None`` for sampling variants,
    which differ in ``fps`` / ``phase`` instead).
    """

    name: str
    family: str
    apply: Callable[[FrameList], FrameList] | None = field(default=None, compare=False)
    fps: float = 10.0
    phase: float = 0.0  # fraction of one sampling step


def _per_frame(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[FrameList], FrameList]:
    return lambda frames: [fn(f) for f in frames]


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def gradient(direction: str, strength: float = GRADIENT_STRENGTH) -> Callable[[np.ndarray], np.ndarray]:
    """Multiplicative light gradient, brighter towards ``direction`` (left/right/top/bottom)."""
    def fn(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        if direction in ("left", "right"):
            ramp = np.linspace(-1.0, 1.0, w)[None, :]
            ramp = ramp if direction == "right" else -ramp
        else:
            ramp = np.linspace(-1.0, 1.0, h)[:, None]
            ramp = ramp if direction == "bottom" else -ramp
        gain = (1.0 + strength * ramp)[..., None]
        return _to_u8(rgb.astype(np.float32) * gain.astype(np.float32))
    return fn


def gamma(g: float) -> Callable[[np.ndarray], np.ndarray]:
    """Gamma curve ``255 (x / 255) ** g``."""
    lut = _to_u8(255.0 * (np.arange(256) / 255.0) ** g)
    return lambda rgb: lut[rgb]


def gain(k: float) -> Callable[[np.ndarray], np.ndarray]:
    """Global exposure gain (clipped)."""
    lut = _to_u8(np.arange(256) * k)
    return lambda rgb: lut[rgb]


def colour_cast(r: float, g: float, b: float) -> Callable[[np.ndarray], np.ndarray]:
    """Per-channel gains (white-balance error)."""
    k = np.array([r, g, b], np.float32)
    return lambda rgb: _to_u8(rgb.astype(np.float32) * k)


def blur(sigma: float) -> Callable[[np.ndarray], np.ndarray]:
    """Gaussian blur with standard deviation ``sigma`` pixels."""
    import cv2

    return lambda rgb: cv2.GaussianBlur(rgb, (0, 0), sigmaX=sigma, sigmaY=sigma)


def mirror(rgb: np.ndarray) -> np.ndarray:
    """Left-right flip."""
    return np.ascontiguousarray(rgb[:, ::-1])


def _encode_h264(frames: FrameList, crf: int, fps: float) -> FrameList | None:
    """Encode and decode ``frames`` with libx264 in memory; None when PyAV cannot."""
    import io

    import av

    if "libx264" not in av.codecs_available:
        return None
    buf = io.BytesIO()
    h, w = frames[0].shape[:2]
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=round(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "bf": "0"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf, mode="r") as inp:
        decoded = [fr.to_ndarray(format="rgb24") for fr in inp.decode(video=0)]
    return decoded if len(decoded) == len(frames) else None


def downscale_reencode(frames: FrameList, crf: int = CRF, fps: float = 10.0) -> FrameList:
    """Half size, H.264 at ``crf`` (or JPEG q15 per frame without libx264), back to full size."""
    import cv2

    if not frames:
        return []
    h, w = frames[0].shape[:2]
    hw, ww = max(2, (h // 2) // 2 * 2), max(2, (w // 2) // 2 * 2)  # even sizes for yuv420p
    small = [cv2.resize(f, (ww, hw), interpolation=cv2.INTER_AREA) for f in frames]
    coded = _encode_h264(small, crf, fps)
    if coded is None:
        coded = []
        for f in small:
            ok, enc = cv2.imencode(".jpg", f[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 15])
            coded.append(cv2.imdecode(enc, cv2.IMREAD_COLOR)[:, :, ::-1] if ok else f)
    return [np.ascontiguousarray(cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR)) for f in coded]


def variants(families: tuple[str, ...] = FAMILIES) -> list[Variant]:
    """All harness variants of the given families, in a fixed order."""
    table = [
        Variant("light_from_left", "lighting", _per_frame(gradient("left"))),
        Variant("light_from_right", "lighting", _per_frame(gradient("right"))),
        Variant("light_from_top", "lighting", _per_frame(gradient("top"))),
        Variant("light_from_bottom", "lighting", _per_frame(gradient("bottom"))),
        Variant("gamma_0.7", "exposure", _per_frame(gamma(0.7))),
        Variant("gamma_1.4", "exposure", _per_frame(gamma(1.4))),
        Variant("gain_0.7", "exposure", _per_frame(gain(0.7))),
        Variant("warm_cast", "colour", _per_frame(colour_cast(1.15, 1.0, 0.85))),
        Variant("cool_cast", "colour", _per_frame(colour_cast(0.85, 1.0, 1.15))),
        Variant("blur_1.5px", "blur", _per_frame(blur(1.5))),
        Variant("blur_3px", "blur", _per_frame(blur(3.0))),
        Variant("half_size_crf40", "compression", downscale_reencode),
        Variant("mirror", "mirror", _per_frame(mirror)),
        Variant("phase_half_step", "sampling", None, fps=10.0, phase=0.5),
        Variant("fps_15", "sampling", None, fps=15.0),
    ]
    return [v for v in table if v.family in families]


def variant(name: str) -> Variant:
    """The variant called ``name`` (ValueError listing the names otherwise)."""
    for v in variants():
        if v.name == name:
            return v
    raise ValueError(f"unknown perturbation {name!r} (choose from {', '.join(v.name for v in variants())})")
