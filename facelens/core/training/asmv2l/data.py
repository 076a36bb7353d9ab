"""Training data for AsmV2L: face crops, tracked meshes, morphable fits, texts (prepared once, cached).

Dataset layout (``facelens recon train DATASET...``; several DATASET folders may be given):

* any folder tree of **still images** (``.png .jpg .jpeg .bmp``; every image is its own person and
  session) and/or **videos** (``.mp4 .mov .avi .mkv .webm``; one video = one person and session,
  sampled at ``fps``, at most ``max_per_video`` frames);
* an optional ``labels.csv`` at the folder's root with columns ``image`` (path relative to the
  folder), ``expression`` and optionally ``valence``, ``arousal`` (DiffusionFER's own layout).

Each frame is tracked with FaceLens's tracker (static mode for stills); frames whose quality is not
usable are left out. The crop is the square box of the tracked mesh grown by ``MARGIN`` of its side
on every side, resized to ``CROP_SIZE``; landmarks are stored in crop units (0..1). Targets: the head
pose of the tracked mesh (:func:`facelens.core.face.geometry.head_pose_batch` in crop units), the
morphable fit of the pose-free mesh (whole-session identity, ``causal=False``) in SD units, and the
20 expression measures from which :mod:`.text` writes the region phrases.
"""
from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from facelens.core.face.asmv2l.crops import crop_frame

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm")


class DatasetError(Exception):
    """A dataset that cannot be used (one-line message)."""


@dataclass
class FrameSet:
    """Prepared frames (all arrays share the first dimension N)."""

    crops: np.ndarray  # (N,S,S,3) uint8
    landmarks: np.ndarray  # (N,478,3) float32, crop units
    pose: np.ndarray  # (N,6) yaw, -pitch, roll (rad), tx, ty, log scale
    id_coef: np.ndarray  # (N,K_id) SD units
    exp_coef: np.ndarray  # (N,K_exp) SD units
    measures: np.ndarray  # (N,20)
    session: np.ndarray  # (N,) str
    source: np.ndarray  # (N,) str: file (and frame index)
    label: np.ndarray  # (N,) str, '' where unlabelled
    valence: np.ndarray  # (N,) float32, NaN where unlabelled
    arousal: np.ndarray

    def __len__(self) -> int:
        return len(self.crops)

    def subset(self, idx: np.ndarray) -> FrameSet:
        """Rows ``idx`` of every array."""
        return FrameSet(**{f.name: getattr(self, f.name)[idx] for f in fields(self)})

    def save(self, path: Path) -> Path:
        """Uncompressed ``.npz`` (crops dominate; written to a temporary name first)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".partial.npz")
        np.savez(tmp, **{f.name: getattr(self, f.name) for f in fields(self)})
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> FrameSet:
        """Read a file written by :meth:`save`."""
        try:
            with np.load(path, allow_pickle=False) as z:
                return cls(**{f.name: z[f.name] for f in fields(cls)})
        except (OSError, KeyError, ValueError) as exc:
            raise DatasetError(f"{path.name} is not a prepared AsmV2L dataset: {exc}") from None


def _labels(root: Path) -> dict[str, tuple[str, float, float]]:
    f = root / "labels.csv"
    if not f.is_file():
        return {}
    out = {}
    with f.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if "image" not in row:
                raise DatasetError(f"{f} has no 'image' column")
            val = float(row["valence"]) if row.get("valence") not in (None, "") else np.nan
            aro = float(row["arousal"]) if row.get("arousal") not in (None, "") else np.nan
            out[str(Path(row["image"]))] = (row.get("expression", "") or "", val, aro)
    return out


def scan(root: Path) -> tuple[list[Path], list[Path]]:
    """Still images and videos under ``root`` (sorted), ``DatasetError`` when there are none."""
    if not root.is_dir():
        raise DatasetError(f"dataset folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file())
    stills = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    videos = [p for p in files if p.suffix.lower() in VIDEO_SUFFIXES]
    if not stills and not videos:
        raise DatasetError(f"{root} holds no images or videos")
    return stills, videos


def _track(path: Path, is_video: bool, fps: float, max_per_video: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(source, crop, crop landmarks) of the usable faces of at most ``max_per_video`` evenly spaced sampled
    frames (one tracker per file; a still image is one frame, tracked as a still)."""
    from facelens.core.analysis.trackers import track_frames
    from facelens.core.common.types import is_usable
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_media

    out = []
    with open_media(path) as sess:
        n = sess.n_sampled(fps) if is_video else 1
        step = max(1, int(np.ceil(n / max_per_video))) if is_video else 1
        frames = (f for f in sess.iter_sampled(fps) if f.index % step == 0)
        for f, obs in track_frames(frames, lambda: FaceTracker(static=not is_video)):
            if obs.landmarks is not None and bool(is_usable(np.array([obs.quality]))[0]):
                crop, lm = crop_frame(f.rgb, np.asarray(obs.landmarks, np.float64))
                out.append((f"{path}#{f.index}" if is_video else str(path), crop, lm))
    return out


def prepare(roots: list[Path], fps: float = 2.0, max_per_video: int = 40,
            log: Callable[[str], None] = print) -> FrameSet:
    """Track, crop and measure every usable frame of the dataset folders (see the module notes).

    The coefficient targets are left empty (N, 0): :func:`with_targets` fits them with a given
    morphable model, so one prepared file serves any model.
    """
    from facelens.core.face.geometry import expression_measures_posefree, head_pose_batch, posefree_batch

    rows: dict[str, list] = {f.name: [] for f in fields(FrameSet)}
    for root in roots:
        labels = _labels(root)
        stills, videos = scan(root)
        items = [(p, False) for p in stills] + [(p, True) for p in videos]
        log(f"{root}: {len(stills)} images, {len(videos)} videos")
        for k, (path, is_video) in enumerate(items):
            tracked = _track(path, is_video, fps, max_per_video)
            if k % 50 == 0:
                log(f"  tracked {k}/{len(items)}")
            if not tracked:
                continue
            lm = np.stack([t[2] for t in tracked]).astype(np.float64)
            pose = head_pose_batch(lm)
            pf = posefree_batch(lm, pose["rotation"], pose["translation"], pose["scale"])
            angles = np.radians(pose["euler"]) * np.array([1.0, -1.0, 1.0])
            rel = str(path.relative_to(root))
            lab, val, aro = labels.get(rel, ("", np.nan, np.nan))
            for j, (src, crop, lmk) in enumerate(tracked):
                rows["crops"].append(crop)
                rows["landmarks"].append(lmk)
                rows["pose"].append(np.r_[angles[j], pose["translation"][j, :2], np.log(pose["scale"][j])])
                rows["id_coef"].append(np.zeros(0))
                rows["exp_coef"].append(np.zeros(0))
                rows["session"].append(f"{root.name}/{rel}")
                rows["source"].append(src)
                rows["label"].append(lab)
                rows["valence"].append(val)
                rows["arousal"].append(aro)
            rows["measures"].extend(expression_measures_posefree(pf))
    if not rows["crops"]:
        raise DatasetError("no usable face in the dataset")
    dtypes = {"crops": np.uint8, "session": str, "source": str, "label": str}
    return FrameSet(**{k: np.asarray(v, dtype=dtypes.get(k, np.float32)) for k, v in rows.items()})


def with_targets(frames: FrameSet, morph: object) -> FrameSet:
    """Copy of ``frames`` with the morphable fit (SD units) of every session as coefficient targets."""
    from facelens.core.face.geometry import head_pose_batch, posefree_batch
    from facelens.core.face.morphable import fit_session

    lm = frames.landmarks.astype(np.float64)
    pose = head_pose_batch(lm)
    pf = posefree_batch(lm, pose["rotation"], pose["translation"], pose["scale"])
    ids = np.zeros((len(frames), len(morph.identity_sd)), np.float32)  # type: ignore[attr-defined]
    exps = np.zeros((len(frames), len(morph.expression_sd)), np.float32)  # type: ignore[attr-defined]
    for s in np.unique(frames.session):
        rows = np.flatnonzero(frames.session == s)
        fit = fit_session(pf[rows], np.ones(len(rows), bool), model=morph, causal=False)  # type: ignore[arg-type]
        ids[rows] = fit.identity / morph.identity_sd  # type: ignore[attr-defined]
        exps[rows] = fit.expression / morph.expression_sd  # type: ignore[attr-defined]
    out = frames.subset(np.arange(len(frames)))
    out.id_coef, out.exp_coef = ids, exps
    return out


def split_sessions(sessions: np.ndarray, val_frac: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Train / held-out row indices, whole sessions (persons) on one side only."""
    uniq = np.unique(sessions)
    rng = np.random.default_rng(seed)
    held = set(rng.permutation(uniq)[: max(1, round(val_frac * len(uniq)))] if val_frac > 0 else [])
    val = np.array([s in held for s in sessions])
    return np.flatnonzero(~val), np.flatnonzero(val)
