"""Per-label data-quality warnings shared by the GUI's diagnosis panel and the report."""
from __future__ import annotations

import numpy as np

from facelens.core.annotation.segments import Segment
from facelens.core.report_content.quality_warnings import label_warnings


def test_low_valid_share_and_missing_label_are_named():
    t = np.arange(0, 20, 0.1)
    ok = np.ones(t.size, bool)
    ok[(t >= 10) & (t < 14.3)] = False  # 43 of the 100 sad frames unusable
    segs = [Segment(0.0, 10.0, "happy"), Segment(10.0, 20.0, "sad")]
    w = label_warnings([(t, ok, segs)])
    assert w == ["43 % of the sad frames were unusable (43 of 100: no face, occlusion, blur or extreme head "
                 "pose); the sad figures rest on 57 frames.", "No neutral segment was annotated."]
    ok[:] = True
    assert label_warnings([(t, ok, segs + [Segment(0.0, 1.0, "neutral")])]) == []
    # Over several sessions the shares add up.
    two = label_warnings([(t, ok, segs), (t, ~ok, [Segment(0.0, 10.0, "happy")])])
    assert two[0].startswith("50 % of the happy frames were unusable (100 of 200")
