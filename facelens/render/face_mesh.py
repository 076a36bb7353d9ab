"""The shaded 3D face: a VisPy mesh visual that re-uploads only vertices and normals per frame.

``MeshVisual.set_data`` builds a new ``MeshData`` and a new colour-transform shader function on every
call, which makes VisPy recompile the program (FACTS.md: ≈24 updates/s instead of ≈29 under llvmpipe).
:class:`FaceMeshVisual` keeps the faces, colour and program fixed after the first upload and, per frame,
only writes the face-indexed vertex buffer and the normals the shading filter reads.

:class:`FaceScene` bundles a ``SceneCanvas``, an upright turntable camera and the mesh; the GUI embeds
``scene.canvas.native`` hidden and shows :meth:`FaceScene.render_image` in a raster widget (an embedded
``QOpenGLWidget`` switches the whole window to OpenGL composition, which costs ≈35 ms for *any* repaint
under software OpenGL, see ``docs/gui.md``); tests render offscreen with ``scene.render()``. The
report's face snapshots do not use this module (``snapshot.render_face``: plain skin, never a texture).

The mesh drawn is the closed face (:mod:`facelens.render.face_closure`: the tracked surface plus a back
shell and eye and mouth caps). It is white, times a VisPy ``TextureFilter``: the frame's crop around the
face (:mod:`facelens.render.face_texture`) or, untextured, one texel of skin colour, so switching costs
one texture upload and never a shader rebuild; per frame the texture data and texture coordinates are
replaced in the same GL texture and buffer.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from vispy import scene
from vispy.geometry import MeshData
from vispy.visuals import MeshVisual
from vispy.visuals.filters import TextureFilter

from facelens.render.colors import SKIN_RGBA, VIEWPORT_BG_RGBA
from facelens.render.face_closure import CAP_DEPTH, TEXTURED_EYE_DEPTH, close_vertices, closed_face
from facelens.render.face_parts import FaceParts
from facelens.render.face_texture import FaceTexture, texture_array

#: Default camera: looking at the face from the front, a narrow field of view like a portrait lens.
DEFAULT_FOV = 30.0
DEFAULT_DISTANCE = 3.2
#: With ``up="+y"``, azimuth 90° puts the camera on the +z side, in front of a face looking towards +z.
FRONT_AZIMUTH = 90.0
#: Light on the video texture: the frame already has its own shading, so less contrast than on plain skin.
#: "ambient" is the ambient light's intensity (coefficient 1); "diffuse" the coefficient on VisPy's default
#: diffuse light (0.7): 0.45 + 0.8 × 0.7 ≈ 1.0 facing the light, so a front view keeps the video's
#: brightness, 0.45 at grazing angles. Plain skin keeps the earlier look (0.45 × VisPy's 0.25 ambient).
TEXTURED_LIGHT = {"ambient": 0.45, "diffuse": 0.8, "specular": 0.08}
PLAIN_LIGHT = {"ambient": 0.45 * 0.25, "diffuse": 1.0, "specular": 0.15}


def face_triangles() -> np.ndarray:
    """The 852 consistently wound triangles of the 478-point mesh (from :mod:`facelens.core.face.topology`)."""
    from facelens.core.face import topology

    return np.asarray(topology.triangles(), dtype=np.uint32)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (vectorised).

    Parameters
    ----------
    vertices : (V, 3) array
    faces : (F, 3) int array

    Returns
    -------
    (V, 3) float32 array; zero where a vertex has no area around it.
    """
    v = np.asarray(vertices, dtype=np.float32)
    tri = v[faces]
    fn = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])  # length = 2 × area: area weighting
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, faces[:, k], fn)
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    np.divide(n, norm, out=n, where=norm > 0)
    return n


def upright_from_image(landmarks_px: np.ndarray) -> np.ndarray:
    """Image-pixel landmarks (x right, y down, z away from the camera) to an upright, centred view space.

    The result has y up and the face looking towards +z, is centred on the mesh's centroid and scaled so
    that the face is about one unit wide; head rotation is kept (this is the posed face).
    """
    p = np.asarray(landmarks_px, dtype=np.float32).copy()
    p[:, 1] *= -1.0
    p[:, 2] *= -1.0
    return normalise_extent(p)


def normalise_extent(points: np.ndarray) -> np.ndarray:
    """Centre on the centroid and scale so the x-extent is 1 (keeps the camera framing fixed)."""
    p = np.asarray(points, dtype=np.float32)
    c = np.nanmean(p, axis=0)
    width = float(np.nanmax(p[:, 0]) - np.nanmin(p[:, 0]))
    if not np.isfinite(width) or width <= 0:
        width = 1.0
    return ((p - c) / width).astype(np.float32)


class FaceMeshVisual(MeshVisual):
    """A mesh whose topology and colour are fixed and whose vertices change every frame."""

    #: Fill MeshData's private caches and re-upload two buffers (vispy 0.17.0, pinned); False, or a
    #: vispy without those internals, takes the public ``set_data`` path (rebuilds the program: slower).
    use_private_api: bool = True
    _PRIVATE_MESHDATA = ("_vertices", "_vertices_indexed_by_faces", "_vertex_normals",
                         "_vertex_normals_indexed_by_faces", "_face_normals", "_face_normals_indexed_by_faces")

    def __init__(self, vertices: np.ndarray, faces: np.ndarray, color: Any = SKIN_RGBA) -> None:
        self._faces_idx = np.asarray(faces, dtype=np.uint32)
        self._rgba = color
        self._uploaded_once = False
        super().__init__(vertices=np.asarray(vertices, np.float32), faces=self._faces_idx, color=color,
                         shading="smooth")
        self.shading_filter.shininess = 12.0
        self.shading_filter.specular_coefficient = (0.15, 0.15, 0.15, 1.0)
        self.shading_filter.ambient_coefficient = (0.45, 0.45, 0.45, 1.0)

    def set_vertices(self, vertices: np.ndarray) -> None:
        """Replace the vertex positions (same count, same faces); normals are recomputed.

        Only the vertex and normal buffers are written to the GPU; no shader is rebuilt.
        """
        v = np.ascontiguousarray(vertices, dtype=np.float32)
        faces = self._faces_idx
        if not self._fast_path():
            self.set_data(vertices=v, faces=faces, color=self._rgba)  # public API: vispy recomputes normals
            self.update()
            return
        normals = vertex_normals(v, faces)
        md: MeshData = self._meshdata
        # Fill MeshData's caches directly: set_vertices() would drop the face index caches and make
        # every get_* call recompute them.
        md._vertices = v
        md._vertices_indexed_by_faces = v[faces]
        md._vertex_normals = normals
        md._vertex_normals_indexed_by_faces = normals[faces]
        md._face_normals = None
        md._face_normals_indexed_by_faces = None
        if not self._uploaded_once:
            self.mesh_data_changed()  # the first time: the normal full upload, builds the program
            self._uploaded_once = True
            return
        self._vertices.set_data(md._vertices_indexed_by_faces, convert=True)
        # The shading filter re-reads get_vertex_normals(indexed="faces") on this event and uploads it.
        self.events.data_updated()
        self.update()

    def _fast_path(self) -> bool:
        md = getattr(self, "_meshdata", None)
        return (self.use_private_api and md is not None and all(hasattr(md, a) for a in self._PRIVATE_MESHDATA)
                and hasattr(getattr(self, "_vertices", None), "set_data"))

    def _update_data(self) -> bool | None:
        result = super()._update_data()
        self._uploaded_once = True
        return result


FaceMesh = scene.visuals.create_visual_node(FaceMeshVisual)


class FaceScene:
    """A canvas with the shaded face, an upright orbit camera and a light that follows the camera.

    Parameters
    ----------
    size : (int, int)
        Canvas size in pixels.
    show : bool
        Passed to ``SceneCanvas``; the GUI embeds ``canvas.native`` instead of showing it.
    parent : object, optional
        Native parent widget (the GUI's container), passed through to VisPy.
    """

    def __init__(self, size: tuple[int, int] = (480, 480), show: bool = False, parent: Any = None) -> None:
        self.faces = face_triangles()
        self.closed = closed_face()  # the face's triangles, then the back shell and the eye and mouth caps
        self.canvas = scene.SceneCanvas(keys=None, size=size, show=show, bgcolor=VIEWPORT_BG_RGBA,
                                        parent=parent)
        self.view = self.canvas.central_widget.add_view()
        self.view.camera = scene.TurntableCamera(up="+y", fov=DEFAULT_FOV, azimuth=FRONT_AZIMUTH,
                                                 elevation=0.0, distance=DEFAULT_DISTANCE)
        placeholder = _placeholder_vertices(self.closed.n_vertices)
        # White, times the texture: the video crop, or one texel of skin colour when untextured.
        self.mesh = FaceMesh(placeholder, self.closed.faces, color=(1.0, 1.0, 1.0, 1.0), parent=self.view.scene)
        self._plain = np.asarray(np.round(np.asarray(SKIN_RGBA[:3]) * 255), np.uint8).reshape(1, 1, 3)
        self.texture_filter = TextureFilter(self._plain, np.zeros((self.closed.n_vertices, 2), np.float32))
        self.mesh.attach(self.texture_filter)
        self._texture = self.texture_filter.fshader["u_texture"].value  # one GL texture, data replaced
        self._texture.interpolation = "linear"
        self.texture_time: float | None = None  # frame time of the texture shown (None: plain skin)
        self._set_light(PLAIN_LIGHT)
        self.mesh.set_vertices(placeholder)
        self.mesh.visible = False
        self.parts = FaceParts(self.view.scene, FaceMesh)  # eyeballs, irises, mouth interior
        self._vertices = placeholder[: self.closed.n_base]
        self.reset_view()
        # Light from the camera's side, so the face is lit whichever way it is orbited.
        # Checked before each draw; only a real change of direction is sent to the shader.
        self._light = np.zeros(3)
        self._fbo: Any = None  # offscreen framebuffer reused by render_image (rebuilt on resize)
        self._fbo_size: tuple[int, int] = (0, 0)
        self.canvas.events.draw.connect(self._follow_light)
        self._follow_light()

    @property
    def vertices(self) -> np.ndarray:
        """The vertices currently shown (view space)."""
        return self._vertices

    def set_face(self, vertices: np.ndarray | None, texture: FaceTexture | None = None) -> None:
        """Show a face (view-space vertices, see :func:`upright_from_image`) or hide it (``None`` / NaN).

        ``texture``: the frame's crop and the landmarks' positions in it (the same frame as ``vertices``),
        or ``None`` for plain skin. A hidden face drops its texture, so no later face shows it.
        """
        if vertices is None or not np.all(np.isfinite(vertices)):
            self.mesh.visible = False
            self.parts.update(None)
            self._set_texture(None)
            self.canvas.update()
            return
        self._vertices = np.asarray(vertices, np.float32)
        self._set_texture(texture)
        plain = texture is None  # textured: the video's own eyes and mouth (teeth) show on the caps
        self.mesh.set_vertices(close_vertices(self._vertices, self.closed,
                                              CAP_DEPTH if plain else TEXTURED_EYE_DEPTH))
        self.parts.show_eyes = self.parts.show_mouth = plain
        self.parts.update(self._vertices)
        self.mesh.visible = True

    def _set_texture(self, texture: FaceTexture | None) -> None:
        if texture is None:
            if self.texture_time is not None:
                self._texture.set_data(self._plain)
                self._set_light(PLAIN_LIGHT)
                self.texture_time = None
            return
        image, uv = texture_array(texture, self.closed)
        self._texture.set_data(image)
        self.texture_filter.texcoords = uv
        if self.texture_time is None:
            self._set_light(TEXTURED_LIGHT)
        self.texture_time = float(texture.time_s)

    def _set_light(self, light: dict[str, float]) -> None:
        sf = self.mesh.shading_filter
        sf.ambient_coefficient = (1.0, 1.0, 1.0, 1.0)
        sf.ambient_light = (1.0, 1.0, 1.0, light["ambient"])
        sf.diffuse_coefficient = (light["diffuse"],) * 3 + (1.0,)
        sf.specular_coefficient = (light["specular"],) * 3 + (1.0,)

    def reset_view(self) -> None:
        """Front view, face centred and filling most of the viewport."""
        cam = self.view.camera
        cam.center = (0.0, 0.0, 0.0)
        cam.azimuth = FRONT_AZIMUTH
        cam.elevation = 0.0
        cam.roll = 0.0
        cam.fov = DEFAULT_FOV
        cam.distance = DEFAULT_DISTANCE
        cam.scale_factor = DEFAULT_DISTANCE

    def render(self) -> np.ndarray:
        """Render offscreen to an (H, W, 4) uint8 array (used by tests and the report)."""
        return np.asarray(self.canvas.render())

    def render_image(self) -> np.ndarray:
        """Draw the scene into a cached offscreen framebuffer of the canvas's size.

        Unlike :meth:`render` (a new framebuffer and render buffers per call), the buffers are made
        once per size, so a playback frame costs one draw and one read-back.

        Returns
        -------
        (H, W, 4) uint8 array, row 0 at the top.
        """
        from vispy import gloo

        canvas = self.canvas
        canvas.set_current()
        size = tuple(int(x) for x in canvas.physical_size)
        if self._fbo is None or self._fbo_size != size:
            self._fbo = gloo.FrameBuffer(color=gloo.RenderBuffer(size[::-1]),
                                         depth=gloo.RenderBuffer(size[::-1]))
            self._fbo_size = size  # type: ignore[assignment]
        self._follow_light()  # the draw event (which usually does this) does not fire offscreen
        # SceneCanvas.on_draw normally re-opens update requests (it drops every update() while one is
        # pending); this draw replaces it, so it must re-open them too or the next change is lost.
        if hasattr(canvas, "_update_pending"):
            canvas._update_pending = False
        canvas.push_fbo(self._fbo, (0, 0), canvas.size)
        try:
            canvas.context.clear(color=canvas.bgcolor, depth=True)
            canvas.draw_visual(canvas.scene)
            return self._fbo.read()
        finally:
            canvas.pop_fbo()

    def _follow_light(self, event: Any = None) -> None:
        """Keep the light at the camera (a little above and to the left), whichever way the face is orbited.

        The shading filter wants the light's travel direction in scene coordinates: map the canvas
        centre at two depths back into the scene and take the direction from near to far.
        """
        sf = self.mesh.shading_filter
        if sf is None:
            return
        tr = self.mesh.transforms.get_transform(map_from="visual", map_to="canvas")
        w, h = self.canvas.size
        pts = []
        for x, y, z in ((w / 2, h / 2, -1.0), (w / 2, h / 2, 1.0), (w / 2 - 1.0, h / 2 - 1.0, -1.0)):
            p = np.asarray(tr.imap([x, y, z, 1.0]), dtype=float)
            pts.append(p[:3] / p[3] if p[3] else p[:3])
        view = pts[1] - pts[0]
        n = np.linalg.norm(view)
        if n == 0 or not np.all(np.isfinite(view)):
            return
        view /= n
        offset = pts[2] - pts[0]  # towards the upper left of the screen, in scene units
        offset -= view * float(offset @ view)
        on = np.linalg.norm(offset)
        # VisPy's shading filter takes the direction the light travels (from the light to the face).
        d = view - (0.45 * offset / on if on > 0 else 0.0)
        d /= np.linalg.norm(d)
        if np.abs(d - self._light).max() > 1e-4:
            self._light = d
            sf.light_dir = tuple(float(x) for x in d)

    def close(self) -> None:
        self.canvas.close()


def _placeholder_vertices(n: int) -> np.ndarray:
    """A flat disc of ``n`` points, only so the mesh has valid data before the first face arrives."""
    a = np.linspace(0, 2 * np.pi, n, endpoint=False)
    r = np.sqrt(np.linspace(0.01, 1.0, n)) * 0.5
    return np.stack([r * np.cos(a), r * np.sin(a), np.zeros(n)], axis=1).astype(np.float32)
