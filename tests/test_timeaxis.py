"""The time axis rule: the frame a time falls on (one owner for results, view model and GUI)."""
import numpy as np

from facelens.core.common.timeaxis import nearest_frame


def test_nearest_frame_clamps_rounds_and_breaks_ties_to_the_earlier_frame():
    t = np.array([0.0, 0.1, 0.2, 0.3])
    assert nearest_frame(t, -5.0) == 0 and nearest_frame(t, 9.0) == 3
    assert nearest_frame(t, 0.14) == 1 and nearest_frame(t, 0.16) == 2
    assert nearest_frame(t, 0.15) == 1  # exactly between: the earlier frame
    assert nearest_frame(np.array([]), 1.0) == -1
