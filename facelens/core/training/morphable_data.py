"""Pose-free meshes from results files and batch folders, for building and checking the model."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from facelens.core.face.morphable.build import BuildData
from facelens.core.results import ResultsError, SessionResults


def posefree_from_arrays(landmarks: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
                         scale: np.ndarray) -> np.ndarray:
    """(N, 478, 3) template-frame meshes ``R' (x - t) / s`` from stored image-frame landmarks and pose."""
    from facelens.core.face.geometry import posefree_batch  # the one owner of the transform

    with np.errstate(invalid="ignore", divide="ignore"):
        return posefree_batch(landmarks, np.asarray(rotation, np.float64), np.asarray(translation, np.float64),
                              np.asarray(scale, np.float64))


def session_posefree(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(pose-free meshes (N, 478, 3), usable (N,) bool) of one results file."""
    with SessionResults.open(path) as r:
        lm = r.landmarks(slice(None))
        p = posefree_from_arrays(lm, r.rotation, r.translation, r.scale)
        usable = np.asarray(r.usable, bool) & np.all(np.isfinite(p), axis=(1, 2))
    return p, usable


def batch_sessions(folder: Path) -> dict[str, Path]:
    """``session id -> results file`` of a ``facelens batch`` output folder (or a folder of .h5 files)."""
    folder = Path(folder)
    base = folder / "sessions" if (folder / "sessions").is_dir() else folder
    files = sorted(base.glob("*.h5"))
    if not files:
        raise ResultsError(f"no results files (*.h5) in {base}")
    return {f.stem: f for f in files}


def usable_frames(path: Path) -> np.ndarray:
    """(T, 478, 3) pose-free meshes of the usable frames of one results file."""
    p, ok = session_posefree(path)
    return p[ok]


def still_session_id(image: Path, dataset: Path) -> str:
    """Session id of a dataset image in a batch manifest: its relative path, ``/`` -> ``__``, no suffix."""
    rel = Path(image).resolve().relative_to(Path(dataset).resolve())
    return "__".join(rel.with_suffix("").parts)


def single_person(path: Path, max_multiple: float = 0.2) -> bool:
    """False when more than ``max_multiple`` of the frames with a face show several faces."""
    with SessionResults.open(path) as r:
        faces = np.asarray(r.n_faces)
    seen = faces >= 1
    return bool(seen.any()) and float(np.mean(faces[seen] > 1)) <= max_multiple


def video_files(paths: list[Path]) -> dict[str, Path]:
    """``session id -> results file`` of results files and batch folders given together."""
    out: dict[str, Path] = {}
    for p in paths:
        out.update({Path(p).stem: Path(p)} if Path(p).is_file() else batch_sessions(Path(p)))
    return out


def load_build_data(still_labels: dict[str, int], stills: Path, videos: list[Path],
                    dataset_name: str = "stills") -> BuildData:
    """:class:`BuildData` from analysed stills and videos.

    ``still_labels`` maps the session id of each labelled still (:func:`still_session_id`) in the
    batch folder ``stills`` to its AffectNet expression code (0 = neutral); ``videos`` are results
    files or batch folders. Video sessions in which several people appear (see
    :func:`single_person`) are left out: their frames are no within-person variation.
    """
    files = batch_sessions(stills)
    neutral: list[np.ndarray] = []
    expressive: list[np.ndarray] = []
    for sid, label in still_labels.items():
        f = files.get(sid)
        if f is None:
            continue
        p = usable_frames(f)
        if len(p):
            (neutral if label == 0 else expressive).append(p[0])
    clips, used, left_out = [], [], []
    for name, f in video_files(videos).items():
        if not single_person(f):
            left_out.append(name)
            continue
        p = usable_frames(f)
        if len(p):
            clips.append(p)
            used.append(name)
    sources = {"stills": f"{dataset_name}: {len(neutral)} neutral + {len(expressive)} expressive faces "
                         f"with a usable face (of {len(still_labels)} labelled images)",
               "videos": f"{len(used)} single-person video sessions: {', '.join(used)}",
               "videos_left_out": ", ".join(left_out) or "none"}
    empty = np.zeros((0, 478, 3))
    return BuildData(neutral_stills=np.array(neutral) if neutral else empty,
                     expressive_stills=np.array(expressive) if expressive else empty,
                     videos=clips, sources=sources)
