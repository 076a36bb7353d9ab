"""The appearance posterior's mirror average: a frame and its left-right mirror image, with the
mirrored face box, give the same FER2013 posterior; without the average they do not."""
from __future__ import annotations

import numpy as np
import pytest


def _frame_and_boxes(media):
    import cv2

    img = cv2.cvtColor(cv2.imread(str(media / "images" / "pyfeat_happy_single_face.jpg")), cv2.COLOR_BGR2RGB)
    h, w = img.shape[:2]
    rng = np.random.default_rng(3)
    boxes = []
    for _ in range(8):  # boxes of any size and sub-pixel position, some reaching past the frame's edge
        s = rng.uniform(0.2, 0.6) * min(w, h)
        x0, y0 = rng.uniform(-0.1 * s, w - 0.9 * s), rng.uniform(0, h - s)
        boxes.append(np.array([x0, y0, x0 + s, y0 + s * rng.uniform(0.9, 1.2)]))
    return img, boxes


def test_a_mirrored_frame_gives_the_same_posterior(media):
    from facelens.core.affect.fer import FerEmotionModel
    from facelens.core.affect.illumination import MIRROR_SUFFIX, PREPROCESSING

    img, boxes = _frame_and_boxes(media)
    w = img.shape[1]
    mirrored = np.ascontiguousarray(img[:, ::-1])
    mboxes = [np.array([w - b[2], b[1], w - b[0], b[3]]) for b in boxes]
    avg = FerEmotionModel(device="cpu", mirror_average=True)
    p, q = avg.predict_faces([img] * len(boxes), boxes), avg.predict_faces([mirrored] * len(boxes), mboxes)
    np.testing.assert_allclose(p, q, atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-5)
    plain = FerEmotionModel(device="cpu", mirror_average=False)
    p0, q0 = plain.predict_faces([img] * len(boxes), boxes), plain.predict_faces([mirrored] * len(boxes), mboxes)
    assert np.abs(p0 - q0).max() > 0.05  # the model and the normalisation alone are not mirror-symmetric
    # the average is of the two views' posteriors, each made as without the average
    np.testing.assert_allclose(p, 0.5 * (p0 + q0), atol=1e-6)
    assert (avg.preprocessing, plain.preprocessing) == (PREPROCESSING + MIRROR_SUFFIX, PREPROCESSING)
    # the default is the single view G was trained on
    assert FerEmotionModel(device="cpu").preprocessing == PREPROCESSING


@pytest.mark.parametrize("flag", [True, False])
def test_the_stage_records_how_the_posterior_was_made(flag):
    from facelens.core.affect.fer import FerEmotionModel
    from facelens.core.affect.stage import AffectStage

    stage = AffectStage(FerEmotionModel(device="cpu", mirror_average=flag))
    assert stage.appearance_preprocessing.endswith("+mirror-average") is flag
    assert AffectStage(None).appearance_preprocessing == "none"
