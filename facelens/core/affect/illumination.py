"""Illumination normalisation of the grey face crops that go into the FER2013 model.

The appearance model reads a 64x64 grey crop. Its posterior moved with exposure, gamma and light
gradients (the validity harness's photometric families; ``benchmarks/crop_illumination.py``
measures it). In the log of the intensity those three are simple: a gain is an added constant, a
gamma (on [0, 1] intensities) a scale, a smooth gradient across the face close to an added plane.
So each crop is

1. taken to ``log(1 + I)``;
2. its light slope across the face (a plane fitted on an ellipse over the face, ``FACE_ELLIPSE``) is
   replaced by the typical slope (``TYPICAL_SLOPE``), keeping the ordinary shading of a face;
3. standardised over the face ellipse to the typical log mean and log SD (``LOG_MEAN``, ``LOG_SD``)
   and mapped back to intensities.

"Typical" means G's training data: the four constants are medians over the unperturbed crops of the
945 DiffusionFER faces with a face box (image statistics, no labels; ``benchmarks/crop_illumination.py
--constants --dataset ... --stills ...`` recomputes them). A crop of a training face is nearly
unchanged, and a real crop is brought to the statistics G learnt from. Real, evenly lit video faces
have about half that log contrast (median 0.28 over the 20 corpus clips the harness does not report
on, against 0.52 here), so the normalisation stretches them, and the FER2013 model reads some of
them differently.

Variants compared (docs/validity.md, "Illumination-normalised appearance crops", has every figure):
typical values from the development video clips instead, with the contrast fully standardised, half
way (``CONTRAST_PULL`` 0.5) or kept. They change a real face's reading less, but G's
cross-validated 7-class accuracy fell (with the integer crops of that comparison: 0.691 full, 0.703
half way, against 0.718 with DiffusionFER constants), and half way was also worse on the validity
harness and on the labelled real spans.
Classical ancestor: the log / plane-subtraction / contrast normalisation of face-detection
preprocessing (Sung & Poggio 1998); the numbers here are ours.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

SIZE = 64
#: recorded in every results file (``appearance_preprocessing``): posteriors made another way are
#: not mixed with these (resume, batch reuse and the demo's reuse compare it)
PREPROCESSING = "subpixel-crop+illumination-1"
#: appended when each posterior is averaged with its mirror image's (``FerEmotionModel(mirror_average=True)``)
MIRROR_SUFFIX = "+mirror-average"
#: the ``fer`` package's own crops: what a results file or demo manifest without the key was made with
FER_PACKAGE = "fer-package"
# semi-axes of the face ellipse as fractions of the crop side (the crop is the face box plus a 10 px
# margin, so the ellipse keeps to the face and leaves out most hair and background)
FACE_ELLIPSE = (0.36, 0.42)
LOG_MEAN = 4.9860   # median over the crops of the mean of log(1 + I) on the ellipse
LOG_SD = 0.5209     # median of its SD on the ellipse
TYPICAL_SLOPE = (0.1370, 0.0180)  # median light slope across the crop (log units per crop side), x then y
CONTRAST_PULL = 1.0  # 1: the log SD is set to LOG_SD; 0: kept; 0.5: its ratio to LOG_SD is halved (in log)


def recorded_preprocessing(meta: Mapping[str, Any]) -> str:
    """The crop preprocessing a results file's or demo manifest's metadata records (:data:`FER_PACKAGE`
    for files written before it was recorded)."""
    return str(meta.get("appearance_preprocessing", FER_PACKAGE))


def _design(size: int = SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(plane design (P, 3) over all pixels, face mask (P,), least-squares solver (3, M) on the mask)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) / (size - 1) - 0.5
    a = np.stack([np.ones(size * size), xx.ravel(), yy.ravel()], axis=1)
    mask = ((xx / FACE_ELLIPSE[0]) ** 2 + (yy / FACE_ELLIPSE[1]) ** 2 <= 1.0).ravel()
    return a, mask, np.linalg.pinv(a[mask])


_A, _MASK, _SOLVE = _design()
_A32, _SOLVE32 = _A.astype(np.float32), _SOLVE.astype(np.float32)


def log_statistics(crops: np.ndarray) -> np.ndarray:
    """Per crop: (log mean, log SD, slope x, slope y) on the face ellipse; ``crops`` (B, 64, 64)."""
    logs = np.log1p(np.asarray(crops, np.float64).reshape(len(crops), -1))
    face = logs[:, _MASK]
    k = face @ _SOLVE.T
    return np.stack([face.mean(axis=1), face.std(axis=1), k[:, 1], k[:, 2]], axis=1)


def normalise_illumination(crops: np.ndarray, typical: tuple[float, float, float, float] | None = None,
                           contrast_pull: float = CONTRAST_PULL) -> np.ndarray:
    """uint8 grey crops (B, 64, 64) -> float32 crops on the 0-255 scale with typical illumination.

    ``typical`` = (log mean, log SD, slope x, slope y), by default the shipped constants
    (``LOG_MEAN``, ``LOG_SD``, ``TYPICAL_SLOPE``); ``contrast_pull`` as ``CONTRAST_PULL``. Other
    values are for the benchmark that compares them (``benchmarks/crop_illumination.py``).
    """
    crops = np.asarray(crops)
    if crops.ndim != 3 or crops.shape[1:] != (SIZE, SIZE):
        raise ValueError(f"expected (B, {SIZE}, {SIZE}) grey crops, got {crops.shape}")
    log_mean, log_sd, sx, sy = (LOG_MEAN, LOG_SD, *TYPICAL_SLOPE) if typical is None else typical
    b = len(crops)
    if b == 0:
        return np.zeros((0, SIZE, SIZE), np.float32)
    # float32 throughout (half the cost of float64; the output is a 0-255 image for the model)
    logs = np.log1p(crops.reshape(b, -1).astype(np.float32))
    face = logs[:, _MASK]
    k = face @ _SOLVE32.T
    slope = k[:, 1:] - np.array([sx, sy], np.float32)
    logs -= slope @ _A32[:, 1:].T
    face = logs[:, _MASK]
    mean = face.mean(axis=1, keepdims=True)
    sd = np.maximum(face.std(axis=1, keepdims=True), np.float32(1e-3))
    gain = (np.float32(log_sd) / sd) ** np.float32(contrast_pull)
    logs -= mean
    logs *= gain
    logs += np.float32(log_mean)
    out = np.expm1(logs, out=logs)
    return np.clip(out, 0.0, 255.0, out=out).reshape(b, SIZE, SIZE)
