"""AffectNet-like image folders: reading labels, extracting the pipeline's own features, building
training sequences and scoring predictions the way the seed paper reports them.

Accepted layouts (see ``docs/affect.md``)::

    DATASET/labels.csv                 image,expression,valence,arousal  (image relative to DATASET)
    DATASET/images/NAME.jpg + DATASET/annotations/NAME_exp.npy, NAME_val.npy, NAME_aro.npy  (AffectNet)

``expression`` is an AffectNet class index (0 neutral, 1 happy, 2 sad, 3 surprise, 4 fear, 5 disgust,
6 anger, 7 contempt) or its name; valence and arousal are in [-1, 1].
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facelens.core.affect.temporal import AFFECTNET_LABELS, ccc
from facelens.core.common.agreement import rmse


class DatasetError(Exception):
    """The folder is not a usable dataset (one-line message)."""


@dataclass
class Sample:
    """One labelled image."""

    image: Path
    label: int
    valence: float
    arousal: float


def _label(value: str) -> int:
    v = value.strip().lower()
    if v.isdigit():
        if not 0 <= int(v) < len(AFFECTNET_LABELS):  # AffectNet's 8-10 (none/uncertain/no face) are no labels
            raise DatasetError(f"expression label {v} is not one of 0-{len(AFFECTNET_LABELS) - 1}")
        return int(v)
    aliases = {"happiness": "happy", "sadness": "sad", "angry": "anger", "fearful": "fear", "disgusted": "disgust"}
    v = aliases.get(v, v)
    if v not in AFFECTNET_LABELS:
        raise DatasetError(f"unknown expression label '{value}' (use 0-7 or {', '.join(AFFECTNET_LABELS)})")
    return AFFECTNET_LABELS.index(v)


def read_dataset(folder: Path) -> list[Sample]:
    """The samples of an AffectNet-like folder (``DatasetError`` when unusable)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"dataset folder not found: {folder}")
    samples: list[Sample] = []
    csv_path = folder / "labels.csv"
    if csv_path.exists():
        with open(csv_path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            need = {"image", "expression", "valence", "arousal"}
            if not need <= set(reader.fieldnames or []):
                raise DatasetError(f"{csv_path.name} needs the columns {', '.join(sorted(need))}")
            for line, row in enumerate(reader, start=2):
                try:
                    s = Sample(folder / row["image"], _label(row["expression"]),
                               float(row["valence"]), float(row["arousal"]))
                except (ValueError, TypeError):
                    raise DatasetError(f"{csv_path.name} line {line}: bad row {row}") from None
                except DatasetError as exc:
                    raise DatasetError(f"{csv_path.name} line {line}: {exc}") from None
                if not (_in_range(s.valence) and _in_range(s.arousal)):
                    raise DatasetError(f"{csv_path.name} line {line}: valence and arousal must be in [-1, 1] "
                                       f"(got {s.valence:g}, {s.arousal:g})")
                samples.append(s)
    elif (folder / "annotations").is_dir() and (folder / "images").is_dir():
        for img in sorted((folder / "images").iterdir()):
            ann = folder / "annotations"
            try:
                lab = int(np.load(ann / f"{img.stem}_exp.npy").item())
                val = float(np.load(ann / f"{img.stem}_val.npy").item())
                aro = float(np.load(ann / f"{img.stem}_aro.npy").item())
            except (OSError, ValueError):
                continue  # images without their three annotation files are skipped
            if not (0 <= lab < len(AFFECTNET_LABELS) and _in_range(val) and _in_range(aro)):
                continue  # AffectNet marks uncertain / non-face images with -2 and labels 8-10
            samples.append(Sample(img, lab, val, aro))
    else:
        raise DatasetError(f"{folder} has neither labels.csv nor images/ + annotations/ (AffectNet layout)")
    if not samples:
        raise DatasetError(f"{folder} has no labelled images")
    missing = [s.image for s in samples if not s.image.is_file()]
    if missing:  # a missing image is a broken dataset, not a "no face"
        raise DatasetError(f"{len(missing)} of {len(samples)} labelled images do not exist "
                           f"(first: {missing[0].relative_to(folder)})")
    return samples


def _in_range(x: float) -> bool:
    return bool(np.isfinite(x)) and -1.0 <= x <= 1.0


def image_features(samples: list[Sample], log: Callable[[str], None] = print,
                   unreadable: list[int] | None = None) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Expression coefficients (N, K) per image with the pipeline's tracker + geometry (NaN row: no face)
    and the face boxes (for models that need the image itself).

    Indices of images that cannot be decoded are appended to ``unreadable`` (when given), so that
    callers can report them apart from images without a face.
    """
    import cv2

    from facelens.core.common.types import is_usable
    from facelens.core.face.geometry import EXPRESSION_NAMES, expression_measures
    from facelens.core.face.tracking import FaceTracker

    feats = np.full((len(samples), len(EXPRESSION_NAMES)), np.nan)
    boxes: list[np.ndarray | None] = [None] * len(samples)
    with FaceTracker(static=True) as tracker:
        for i, s in enumerate(samples):
            bgr = cv2.imread(str(s.image))
            if bgr is None:
                if unreadable is not None:
                    unreadable.append(i)
                continue
            obs = tracker.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if obs.landmarks is None or not is_usable(np.array(obs.quality)):
                continue
            feats[i] = expression_measures(obs.landmarks)
            boxes[i] = obs.bbox
            if (i + 1) % 500 == 0:
                log(f"features: {i + 1}/{len(samples)} images")
    return feats, boxes


def image_sequences(feats: np.ndarray, samples: list[Sample], length: int = 50, n_seq: int | None = None,
                    seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Training sequences from still images: each image held for 1-10 frames, images in random order.

    AffectNet has no time axis, so these sequences teach the frame-level mapping and how the output
    should follow a change of expression; the temporal part can only learn real dynamics from videos.
    """
    rng = np.random.default_rng(seed)
    ok = np.flatnonzero(np.all(np.isfinite(feats), axis=1))
    if ok.size == 0:
        raise DatasetError("no face found in any image of the dataset")
    target = np.array([[s.valence, s.arousal] for s in samples])
    labels = np.array([s.label for s in samples])
    n_seq = n_seq or max(1, int(np.ceil(ok.size * 5.5 / length)))  # each image about once
    out = []
    for _ in range(n_seq):
        idx: list[int] = []
        while len(idx) < length:
            idx += [int(rng.choice(ok))] * int(rng.integers(1, 11))
        idx = idx[:length]
        out.append((feats[idx], target[idx], labels[idx]))
    return out


def affect_metrics(va_pred: np.ndarray, va_true: np.ndarray, probs8: np.ndarray | None,
                   labels: np.ndarray) -> dict[str, float]:
    """V-CCC, A-CCC, V-RMSE, A-RMSE, E-ACC (8-class) and E-ACC (7-class, contempt excluded).

    Frames without a prediction (NaN) are left out and counted in ``n_scored``.
    """
    va_pred, va_true = np.asarray(va_pred, float), np.asarray(va_true, float)
    ok = np.all(np.isfinite(va_pred), axis=1) & np.all(np.isfinite(va_true), axis=1)
    m = {"n": len(va_true), "n_scored": int(ok.sum()),
         "V-CCC": ccc(va_pred[ok, 0], va_true[ok, 0]), "A-CCC": ccc(va_pred[ok, 1], va_true[ok, 1]),
         "V-RMSE": rmse(va_pred[ok, 0], va_true[ok, 0]) if ok.any() else float("nan"),
         "A-RMSE": rmse(va_pred[ok, 1], va_true[ok, 1]) if ok.any() else float("nan")}
    if probs8 is not None:
        p = np.asarray(probs8, float)
        okp = np.all(np.isfinite(p), axis=1) & (labels >= 0)
        m["E-ACC-8"] = float(np.mean(p[okp].argmax(1) == labels[okp])) if okp.any() else float("nan")
        seven = okp & (labels < 7)
        m["E-ACC-7"] = float(np.mean(p[seven, :7].argmax(1) == labels[seven])) if seven.any() else float("nan")
    return m
