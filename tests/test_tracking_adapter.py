"""The mediapipe adapter: the fast path over SolutionBase's private members and the public fallback."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.face.tracking import FaceTracker
from facelens.core.media.video import open_media


def _observations(frames: list[np.ndarray], **kwargs) -> tuple[list, FaceTracker]:
    tracker = FaceTracker(**kwargs)
    try:
        return [tracker.process(f) for f in frames], tracker
    finally:
        tracker.close()


def _same(a, b) -> bool:
    return (a.quality == b.quality and a.n_faces == b.n_faces
            and np.array_equal(a.confidence, b.confidence, equal_nan=True)
            and np.array_equal(a.blur, b.blur, equal_nan=True)
            and (a.landmarks is None) == (b.landmarks is None)
            and (a.landmarks is None or np.array_equal(a.landmarks, b.landmarks)))


@pytest.mark.parametrize("method", ["region", "detect"])
def test_public_fallback_gives_the_same_observations(media, method):
    """Forced onto SolutionBase.process, every graph (tracking mesh, face counter, occlusion test)
    gives the same observations as the fast path, on frames with occlusion and a face count."""
    with open_media(media / "videos" / "pyfeat_WolfgangLanger_Pexels.mp4") as s:
        frames = [f.rgb for f in s.iter_sampled(10.0)][15:55]  # 1.5-5.5 s: the hand comes up
    fast, tr_fast = _observations(frames, occlusion_method=method)
    slow, tr_slow = _observations(frames, occlusion_method=method, private_api=False)
    assert tr_fast.stats == tr_slow.stats and tr_fast.stats["mirror_checks"] >= 8
    assert tr_fast.stats["face_counts"] >= 5
    assert all(_same(a, b) for a, b in zip(fast, slow))
    assert any(o.confidence < 0.5 for o in fast)  # the occlusion test ran on occluded frames


def test_fast_path_is_taken_on_the_pinned_mediapipe():
    from facelens.core.face.tracking import adapter

    fast = adapter.landmark_model()
    slow = adapter.landmark_model(private_api=False)
    try:
        assert fast.fast and not slow.fast
    finally:
        fast.close()
        slow.close()


def test_missing_private_members_fall_back_to_the_public_call():
    from facelens.core.face.tracking import adapter

    class Bare:  # a solution without SolutionBase's private members (another mediapipe version)
        def close(self) -> None:
            pass

    assert not adapter.Graph(Bare()).fast
