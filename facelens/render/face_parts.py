"""Eyeballs, irises and the mouth interior for the 3D face, placed from the tracked landmarks.

The 478-point MediaPipe mesh is a surface with open eyes and mouth: drawn alone it reads as a hollow
mask with see-through holes. These parts close it. Eyeballs are spheres behind the eye openings, their
size from the tracked iris (a human iris is about 11.7 mm across and an eyeball about 24 mm, so the
eyeball radius is ~2.05 iris radii), their front at the tracked iris centre; each iris is a dark
disc of the tracked iris radius just in front of it, so it shows where the person looks (the disc
is flat along the view's depth axis: exact for the frontal, pose-free view, tilted with the head). The mouth interior
is a dark fan behind the inner lip contour, recessed by a third of the mouth's width. Eyeballs and
irises move by a transform (no upload per frame); the mouth fan re-uploads ~20 vertices.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from vispy import scene
from vispy.geometry import create_sphere
from vispy.visuals.transforms import STTransform

# MediaPipe face mesh (refine_landmarks): iris centre then its four ring points, per eye.
IRIS = ((468, (469, 470, 471, 472)), (473, (474, 475, 476, 477)))
# Inner lip contour, in order around the mouth opening.
INNER_LIPS = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
EYEBALL_PER_IRIS = 2.05
IRIS_DEPTH = 0.3  # the iris disc's thickness in iris radii (flattened along the view's depth axis)
SCLERA_RGBA = (0.93, 0.91, 0.88, 1.0)
IRIS_RGBA = (0.22, 0.15, 0.10, 1.0)
MOUTH_RGBA = (0.30, 0.07, 0.08, 1.0)


def face_forward(v: np.ndarray) -> np.ndarray:
    """Unit vector out of the face (towards where the nose points), from the eye corners and the midline."""
    x = v[263] - v[33]  # across the eyes
    y = v[10] - v[152]  # chin to forehead
    f = np.cross(x, y)
    n = float(np.linalg.norm(f))
    if n == 0 or not np.isfinite(n):
        return np.array([0.0, 0.0, 1.0], np.float32)
    f = f / n
    if float((v[1] - v.mean(axis=0)) @ f) < 0:  # the nose tip sticks out forwards
        f = -f
    return f.astype(np.float32)


def mouth_fan(v: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """Vertices of the mouth interior: the inner lip contour plus a recessed centre (last vertex)."""
    ring = v[list(INNER_LIPS)]
    width = float(np.linalg.norm(v[308] - v[78]))
    centre = ring.mean(axis=0) - fwd * (width / 3.0)
    return np.vstack([ring, centre[None]]).astype(np.float32)


def _fan_faces(n_ring: int) -> np.ndarray:
    c = n_ring
    return np.array([[c, i, (i + 1) % n_ring] for i in range(n_ring)], dtype=np.uint32)


class FaceParts:
    """The eye and mouth parts in a VisPy view; :meth:`update` places them for a face, or hides them."""

    def __init__(self, parent: Any, mesh_node: Any) -> None:
        """``mesh_node``: the scene-node class of ``face_mesh.FaceMeshVisual`` (vertex-only uploads)."""
        def ball(colour: tuple[float, ...]) -> Any:  # one MeshData each: VisPy keeps colour state in it
            return scene.visuals.Mesh(meshdata=create_sphere(rows=16, cols=24, radius=1.0), color=colour,
                                      shading="smooth", parent=parent)

        self.eyeballs = [ball(SCLERA_RGBA) for _ in IRIS]
        self.irises = [ball(IRIS_RGBA) for _ in IRIS]
        for m in (*self.eyeballs, *self.irises):
            m.transform = STTransform()
        self.mouth = mesh_node(np.zeros((len(INNER_LIPS) + 1, 3), np.float32), _fan_faces(len(INNER_LIPS)),
                              color=MOUTH_RGBA, parent=parent)
        # False: the face's own caps show instead, carrying the video texture's eyes and mouth (teeth).
        self.show_eyes = True
        self.show_mouth = True
        self.set_visible(False)

    def set_visible(self, on: bool) -> None:
        for m in (*self.eyeballs, *self.irises):
            m.visible = on and self.show_eyes
        self.mouth.visible = on and self.show_mouth

    def update(self, v: np.ndarray | None) -> None:
        """Place the parts for view-space vertices ``v`` (478 points with irises), or hide them."""
        if v is None or len(v) < 478 or not np.all(np.isfinite(v)):
            self.set_visible(False)
            return
        fwd = face_forward(v)
        for (centre, ring), ball, iris in zip(IRIS, self.eyeballs, self.irises):
            c = v[centre]
            r = float(np.mean(np.linalg.norm(v[list(ring)] - c, axis=1)))
            big = EYEBALL_PER_IRIS * r
            ball.transform.scale = (big, big, big)
            # The eyeball's front sits 0.15 radii behind the tracked iris centre; the iris is a lens-shaped disc (an
            # ellipsoid r × r × 0.3 r, flat along the view's depth axis) centred just in front of it, so its
            # whole face stands in front of the curved eyeball where the person looks.
            ball.transform.translate = tuple(float(x) for x in c - fwd * (1.15 * big))
            iris.transform.scale = (r, r, IRIS_DEPTH * r)
            iris.transform.translate = tuple(float(x) for x in c + fwd * (0.05 * r))
        self.mouth.set_vertices(mouth_fan(v, fwd))
        self.set_visible(True)
