"""Exports researchers expect: pose-free meshes (OBJ/PLY) and segments for ELAN and BORIS.

Public API::

    export_mesh(results, frame, "face.obj")          # one frame, format from the suffix
    export_mesh_range(results, frames, "meshes/")    # several frames, one file each
    write_eaf(segments, "session.eaf", media=video); read_eaf("session.eaf", tier=None)
    write_boris_csv(segments, "events.csv");        read_boris_csv("events.csv")

The per-frame CSV/Parquet export stays in ``facelens export`` (columns: ``docs/batch.md``).
"""
from facelens.core.exports.boris import read_boris_csv, write_boris_csv
from facelens.core.exports.common import ExportError
from facelens.core.exports.elan import read_eaf, write_eaf
from facelens.core.exports.mesh import export_mesh, export_mesh_range, posefree_trimesh

__all__ = ["ExportError", "export_mesh", "export_mesh_range", "posefree_trimesh", "read_boris_csv",
           "read_eaf", "write_boris_csv", "write_eaf"]
