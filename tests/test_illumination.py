"""The FER2013 crops' illumination normalisation: gain, gamma and light slopes leave the crop nearly
unchanged; crops are normalised one by one; bad shapes get a clear error."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.affect import illumination as il


def _face(seed: int = 0) -> np.ndarray:
    """A smooth synthetic face-like crop: a bright oval with darker eye, brow and mouth blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:64, 0:64] / 63.0 - 0.5
    img = 60 + 110 * np.exp(-((xx / 0.33) ** 2 + (yy / 0.42) ** 2) ** 2)
    for cx, cy, r, d in ((-0.14, -0.08, 0.05, 50), (0.14, -0.08, 0.05, 50), (0.0, 0.2, 0.09, 40), (0.0, -0.18, 0.2, 15)):
        img -= d * np.exp(-(((xx - cx) / r) ** 2 + ((yy - cy) / (r * 0.5)) ** 2))
    img += rng.normal(0, 2.0, img.shape)
    return np.clip(img, 1, 254).astype(np.uint8)


def _rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    mask = il._MASK.reshape(64, 64)
    return float(np.abs(a[mask] - b[mask]).mean() / (a[mask].std() + 1e-9))


@pytest.mark.parametrize("change", ["gain", "gamma", "slope"])
def test_photometric_changes_are_removed(change: str) -> None:
    face = _face()
    xx = np.mgrid[0:64, 0:64][1] / 63.0 - 0.5
    f = face.astype(np.float64)
    if change == "gain":
        moved = f * 0.7
    elif change == "gamma":
        moved = 255.0 * (f / 255.0) ** 1.4
    else:
        moved = f * (1.0 + 0.6 * xx)  # 0.7 .. 1.3 from left to right
    moved = np.clip(np.rint(moved), 0, 255).astype(np.uint8)
    before = _rel_diff(face.astype(np.float64), moved.astype(np.float64))
    n0, n1 = il.normalise_illumination(np.stack([face, moved]))
    after = _rel_diff(n0.astype(np.float64), n1.astype(np.float64))
    assert before > 0.15  # the change is real on the raw crop ...
    assert after < 0.25 * before  # ... and mostly gone after normalisation


def test_output_shape_range_and_batching() -> None:
    crops = np.stack([_face(s) for s in range(3)])
    out = il.normalise_illumination(crops)
    assert out.shape == (3, 64, 64) and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 255.0
    # each crop is normalised on its own: the batch gives what single calls give
    single = np.concatenate([il.normalise_illumination(c[None]) for c in crops])
    np.testing.assert_allclose(out, single, atol=0.01)  # float32 products: batch-size rounding only
    assert il.normalise_illumination(np.zeros((0, 64, 64), np.uint8)).shape == (0, 64, 64)


def test_bad_shape_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="grey crops"):
        il.normalise_illumination(np.zeros((2, 48, 48), np.uint8))
