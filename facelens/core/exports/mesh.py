"""The pose-free face mesh of a frame as OBJ or PLY (through trimesh).

Vertices are ``SessionResults.posefree_mesh(i)``: the 478 tracked points with the rigid head
pose removed, in the template's units (centimetres, x to the subject's left, y up, z toward the
viewer; see ``core.geometry``). Faces are the 852 triangles of ``core.topology.triangles()``;
the ten iris points (468-477) are kept as vertices that no face uses, so vertex ``k`` of the
file is landmark ``k`` of FaceLens and of mediapipe.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from facelens.core.common.atomic import make_private_dirs
from facelens.core.exports.common import ExportError, write_atomic

MESH_FORMATS = ("obj", "ply")


def _format(path: Path, fmt: str | None) -> str:
    f = (fmt or path.suffix.lstrip(".")).lower()
    if f not in MESH_FORMATS:
        raise ExportError(f"mesh format must be obj or ply (got {f or 'no suffix'!r} for {path.name})")
    return f


def posefree_trimesh(results: Any, frame: int) -> Any:
    """A ``trimesh.Trimesh`` of frame ``frame``'s pose-free mesh.

    Raises
    ------
    ExportError
        The frame is out of range or has no face (no mesh to export).
    """
    import trimesh

    from facelens.core.face.topology import triangles

    n = int(results.n_frames)
    if not 0 <= frame < n:  # no Python negative indexing: -1 is a typo, not "the last frame"
        raise ExportError(f"frame {frame} out of range (the session has frames 0..{n - 1})")
    verts = np.asarray(results.posefree_mesh(frame), np.float64)
    if not np.isfinite(verts).all():
        raise ExportError(f"frame {frame} (t={float(results.time_s[frame]):.3f} s) has no face mesh")
    # process=False: keep every vertex in landmark order, even the unreferenced iris points
    return trimesh.Trimesh(vertices=verts, faces=np.asarray(triangles(), np.int64), process=False)


def _encode(mesh: Any, fmt: str, comment: str) -> bytes:
    if fmt == "obj":
        text = mesh.export(file_type="obj", include_normals=False, include_texture=False)
        return (f"# {comment}\n" + text).encode("utf-8")
    data = mesh.export(file_type="ply", encoding="binary")
    return data if isinstance(data, bytes) else str(data).encode("utf-8")


def export_mesh(results: Any, frame: int, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write frame ``frame``'s pose-free mesh to ``path`` (OBJ or PLY by suffix or ``fmt``)."""
    p = Path(path)
    f = _format(p, fmt)
    mesh = posefree_trimesh(results, frame)
    comment = (f"FaceLens pose-free mesh, frame {frame}, "
               f"t={float(results.time_s[frame]):.3f} s, units cm")
    return write_atomic(p, _encode(mesh, f, comment))


def export_mesh_range(results: Any, frames: Iterable[int], folder: str | os.PathLike[str],
                      fmt: str = "obj", stem: str = "frame") -> tuple[list[Path], list[int]]:
    """One file per frame, ``FOLDER/<stem>_<frame:06d>.<fmt>``; frames without a face are skipped.

    Returns
    -------
    written, skipped
        Paths written and frame indices that had no face.
    """
    out = Path(folder)
    f = _format(Path(f"x.{fmt}"), fmt)
    created = not out.exists()
    written: list[Path] = []
    skipped: list[int] = []
    try:
        for i in frames:
            try:
                mesh = posefree_trimesh(results, int(i))
            except ExportError as exc:
                if "no face" not in str(exc):
                    raise
                skipped.append(int(i))
                continue
            make_private_dirs(out)  # only once there is something to write
            comment = f"FaceLens pose-free mesh, frame {int(i)}, t={float(results.time_s[int(i)]):.3f} s, units cm"
            written.append(write_atomic(out / f"{stem}_{int(i):06d}.{f}", _encode(mesh, f, comment)))
    finally:
        if created and not written and out.is_dir() and not any(out.iterdir()):
            out.rmdir()  # never leave an empty folder that looks like a finished export
    return written, skipped
