"""Mediapipe's 478-point face mesh with attention, batched in torch.

``face_landmark_with_attention.tflite`` outputs six landmark tensors and a face
flag. Mediapipe's ``TensorsToFaceLandmarksWithAttention`` graph merges them: the
468-point mesh, then lips (80), left eye (71) and right eye (71) overwrite x and y
of their mesh points (z stays the mesh's), and the irises become points 468-472
(left) and 473-477 (right) with z the mean mesh z of the eye's 16 contour points.
The index lists are the ``subset_idxs`` options of the model's own
``Landmarks2TransformMatrix`` ops (the same lists as mediapipe's refinement graph),
so they are read from the file rather than retyped here.
"""
from __future__ import annotations

import numpy as np
import torch

from . import roi
from .graph import TFLiteGraph
from .tflite import Model, mediapipe_model_path, read_model

MESH_FILE = "modules/face_landmark/face_landmark_with_attention.tflite"
INPUT_SIZE = 192
EYE_CONTOUR = 16  # lower (9) + upper (7) contour points lead each eye's subset list


def refinement_indices(model: Model) -> dict[str, np.ndarray]:
    """Mesh indices of the lips, left-eye and right-eye outputs, from the model's custom ops."""
    subsets = [
        np.asarray(op.options["subset_idxs"], dtype=np.int64)
        for op in model.ops
        if op.kind == "Landmarks2TransformMatrix"
    ]
    found: dict[str, np.ndarray] = {}
    for s in subsets:
        if s.size == 80:
            found["lips"] = s
        elif s.size == 71 and 33 in s:
            found["left_eye"] = s
        elif s.size == 71 and 263 in s:
            found["right_eye"] = s
    if set(found) != {"lips", "left_eye", "right_eye"}:
        raise ValueError("unexpected attention-model layout: lips/eye subsets not found")
    return found


class FaceMesh(torch.nn.Module):
    """Batched 478-point mesh on regions of interest.

    Call with images (N, 3, H, W) float 0..255 and regions (N, 5) (see :mod:`.roi`);
    returns landmarks (N, 478, 3) in image pixels (z scaled like x) and the face
    presence probability (N,).
    """

    lips: torch.Tensor
    left_eye: torch.Tensor
    right_eye: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        model = read_model(mediapipe_model_path(MESH_FILE))
        self.net = TFLiteGraph(model)
        idx = refinement_indices(model)
        for name, arr in idx.items():
            self.register_buffer(name, torch.from_numpy(arr), persistent=False)

    def decode(self, out: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Merge the six landmark outputs into (N, 478, 3) crop coordinates; presence (N,)."""
        n = out["output_mesh_identity"].shape[0]
        mesh = out["output_mesh_identity"].reshape(n, 468, 3)
        pts = torch.cat((mesh, mesh.new_zeros(n, 10, 3)), dim=1)
        pts[:, self.lips, :2] = out["output_lips"].reshape(n, 80, 2)
        pts[:, self.left_eye, :2] = out["output_left_eye"].reshape(n, 71, 2)
        pts[:, self.right_eye, :2] = out["output_right_eye"].reshape(n, 71, 2)
        pts[:, 468:473, :2] = out["output_left_iris"].reshape(n, 5, 2)
        pts[:, 473:478, :2] = out["output_right_iris"].reshape(n, 5, 2)
        pts[:, 468:473, 2] = mesh[:, self.left_eye[:EYE_CONTOUR], 2].mean(dim=1, keepdim=True)
        pts[:, 473:478, 2] = mesh[:, self.right_eye[:EYE_CONTOUR], 2].mean(dim=1, keepdim=True)
        presence = torch.sigmoid(out["conv_faceflag"].reshape(n))
        return pts, presence

    @torch.no_grad()
    def forward(self, images: torch.Tensor, rects: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = roi.crop(images, rects, INPUT_SIZE, border="replicate") / 255.0
        pts, presence = self.decode(self.net(x))
        return roi.project(pts, rects, INPUT_SIZE), presence
