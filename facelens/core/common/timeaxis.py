"""The session's time axis: which sampled frame a time falls on (the one owner of that rule)."""
from __future__ import annotations

import numpy as np


def nearest_frame(times: np.ndarray, t: float) -> int:
    """Index of the sampled frame nearest to time ``t``, clamped to the session; -1 when there are none.

    ``times`` is increasing. A time exactly between two frames belongs to the earlier one (a frame is
    shown until the next one starts at least as close).
    """
    ts = np.asarray(times, dtype=np.float64)
    n = ts.size
    if n == 0:
        return -1
    if not np.isfinite(t):
        return 0 if t < 0 else n - 1
    j = int(np.searchsorted(ts, t))
    if j <= 0:
        return 0
    if j >= n:
        return n - 1
    return j if (ts[j] - t) < (t - ts[j - 1]) else j - 1
