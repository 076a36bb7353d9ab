"""Face: RGB frame -> face observation (478-point mesh, quality flags), head pose, expression measures,
the mesh topology, the batched torch port of the face models and the morphable-model reconstruction."""
