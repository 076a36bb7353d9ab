"""Affective dynamics: hand-computed indices, gap handling, per-label statistics, the CLI."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from facelens.cli import main
from facelens.core.dynamics import (
    compute_dynamics,
    consecutive_pairs,
    pooled_indices,
    quadrant_fractions,
    response,
    series_indices,
)
from facelens.core.annotation.segments import Segment, write_segments_csv
from facelens.core.common.types import Quality


def test_indices_of_an_alternating_series_match_hand_computation():
    s = series_indices(np.array([0.0, 1.0, 0.0, 1.0]), pac_threshold=0.2)
    assert s.n_valid == 4 and s.n_pairs == 3
    assert s.mean == pytest.approx(0.5)
    assert s.sd == pytest.approx(math.sqrt(1 / 3))  # ddof=1: sum of squares 1.0 / 3
    assert s.mssd == pytest.approx(1.0)  # differences +1, -1, +1
    assert s.pac == pytest.approx(1.0)
    assert s.inertia == pytest.approx(-1.0)  # (-0.25 per pair) / (0.25 variance)
    assert s.range == pytest.approx(1.0)


def test_successive_differences_only_between_consecutive_valid_frames():
    x = np.array([0.0, 1.0, 5.0, 3.0, 4.0])
    usable = np.array([True, True, False, True, True])
    s = series_indices(x, usable)
    # Pairs (0,1) and (3,4) only: differences 1 and 1; the discarded 5.0 and the 1 -> 3 jump never count.
    assert s.n_pairs == 2 and s.mssd == pytest.approx(1.0)
    assert s.n_valid == 4 and s.mean == pytest.approx(2.0)
    # A NaN value breaks the chain the same way as an unusable flag.
    assert series_indices(np.array([0.0, 1.0, np.nan, 3.0, 4.0])).mssd == pytest.approx(1.0)


def test_time_gap_breaks_the_chain():
    t = np.array([0.0, 0.1, 0.2, 1.0, 1.1])
    pairs = consecutive_pairs(np.ones(5, bool), t)
    assert pairs.tolist() == [0, 1, 3]


def test_pooled_pieces_do_not_difference_across_borders():
    a = (np.array([0.0, 0.5]), np.array([0]))
    b = (np.array([10.0, 10.5]), np.array([0]))
    s = pooled_indices([a, b], pac_threshold=0.2)
    assert s.n_pairs == 2 and s.mssd == pytest.approx(0.25)  # never (10 - 0.5)^2
    assert s.pac == pytest.approx(1.0)
    assert pooled_indices([a, b], pac_threshold=0.6).pac == pytest.approx(0.0)


def test_quadrants():
    v = np.array([0.5, -0.5, -0.5, 0.5, 0.0, np.nan, 0.05, 0.3])
    a = np.array([0.5, 0.5, -0.5, -0.5, 0.0, 0.3, -0.05, 0.0])
    q = quadrant_fractions(v, a, np.ones(8, bool))
    # (0, 0) and (0.05, -0.05) lie within 0.1 of the centre; (0.3, 0) counts as positive arousal
    assert q == {"V+A+": 2 / 7, "V-A+": 1 / 7, "V-A-": 1 / 7, "V+A-": 1 / 7, "centre": 2 / 7}


def test_response_to_a_step():
    t = np.arange(50) / 10.0  # 0 .. 4.9 s
    x = np.where(t >= 2.3 - 1e-9, 1.0, 0.0)
    r = response(t, x, np.ones(50, bool), 2.0, 5.0)
    assert r.baseline_source == "before" and r.baseline == pytest.approx(0.0)
    assert r.amplitude == pytest.approx(1.0)
    # Smoothed over 5 samples: at 2.2 s the window holds 2 ones (0.4), at 2.3 s three (0.6 >= 0.5).
    assert r.latency_s == pytest.approx(0.3)
    # No frames before the start: the first second of the segment is the baseline.
    r2 = response(t, x, t >= 2.0, 2.0, 5.0)
    assert r2.baseline_source == "start" and r2.baseline == pytest.approx(0.7)
    assert response(t, x, np.zeros(50, bool), 2.0, 5.0).baseline_source == "none"


def _session():
    t = np.arange(100) / 10.0
    v = np.zeros(100)
    a = np.zeros(100)
    v[0:20], a[0:20] = 0.4, 0.2  # happy 0-2 s
    v[40:60], a[40:60] = 0.6, 0.4  # happy 4-6 s
    v[20:40], a[20:40] = -0.3, -0.1  # sad 2-4 s
    usable = np.ones(100, bool)
    usable[30:35] = False  # part of the sad segment is unusable
    v[30:35] = 9.0  # ... with a value that must be ignored
    segs = [Segment(0, 2, "happy"), Segment(2, 4, "sad"), Segment(4, 6, "happy"), Segment(6, 10, "neutral")]
    return t, v, a, usable, segs


def test_per_label_statistics_pool_segments_and_exclude_unusable_frames():
    t, v, a, usable, segs = _session()
    d = compute_dynamics(t, v, a, usable, segs)
    happy, sad = d.by_label["happy"], d.by_label["sad"]
    assert happy.n_segments == 2 and happy.n_valid == 40
    assert happy.valence.mean == pytest.approx(0.5)
    assert happy.valence.sd == pytest.approx(np.std([0.4] * 20 + [0.6] * 20, ddof=1))
    assert happy.valence.mssd == pytest.approx(0.0)  # no difference across the two segments
    assert sad.n_frames == 20 and sad.n_valid == 15 and sad.valence.mean == pytest.approx(-0.3)
    assert d.valence_contrast == pytest.approx(0.8)
    assert d.by_label["neutral"].arousal.mean == pytest.approx(0.0)
    assert len(d.segments) == 4 and d.segments[1].valence.n_pairs == 13  # 9 + 4 pairs around the gap
    assert d.session_valence.n_valid == 95


def test_missing_label_gives_nan_not_zero():
    t, v, a, usable, segs = _session()
    d = compute_dynamics(t, v, a, usable, [s for s in segs if s.label != "sad"])
    assert d.by_label["sad"].n_valid == 0 and math.isnan(d.by_label["sad"].valence.mean)
    assert math.isnan(d.valence_contrast)
    assert d.to_dict()["valence_contrast"] is None  # JSON-ready


def test_expression_dynamics_per_segment():
    t, v, a, usable, segs = _session()
    e = np.stack([np.arange(100, dtype=float), np.ones(100)], axis=1)
    d = compute_dynamics(t, v, a, usable, segs, e, ["ramp", "flat"])
    first = d.segments[0].expressions
    assert first["ramp"]["mean"] == pytest.approx(9.5) and first["ramp"]["mssd"] == pytest.approx(1.0)
    assert first["flat"]["sd"] == pytest.approx(0.0)


def _write_results(path, t, v, a, quality):
    from facelens.core.results import ResultsWriter

    meta = {"video_path": "synthetic", "video_sha256": "0" * 64, "duration_s": float(t[-1]), "native_fps": 10.0,
            "width": 0, "height": 0}
    with ResultsWriter(path, meta, expression_names=["x"]) as w:
        w.append({"time_s": t, "frame_index": np.arange(len(t)), "quality": quality, "valence": v, "arousal": a})
        return w.finish()


def test_cli_prints_tables_and_json(tmp_path, capsys):
    t, v, a, usable, segs = _session()
    quality = np.where(usable, Quality.OK, Quality.NO_FACE).astype(np.uint8)
    res = _write_results(tmp_path / "s.h5", t, np.where(usable, v, np.nan), a, quality)
    csv = write_segments_csv(segs, tmp_path / "s.csv")
    assert main(["dynamics", str(res), "--segments", str(csv), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["by_label"]["happy"]["valence"]["mean"] == pytest.approx(0.5)
    assert d["by_label"]["sad"]["n_valid"] == 15
    assert main(["dynamics", str(res), "--segments", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "happy" in out and "0.500 ± 0.101" in out and "valence contrast" in out


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    csv = write_segments_csv([Segment(0, 1, "happy")], tmp_path / "s.csv")
    assert main(["dynamics", str(tmp_path / "missing.h5"), "--segments", str(csv)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    assert main(["dynamics", str(tmp_path / "missing.h5"), "--segments", str(tmp_path / "bad.csv")]) == 2
    assert "missing column" in capsys.readouterr().err


def test_response_on_a_segment_shorter_than_the_smoothing_window():
    """A segment of a few frames gives a response (or NaN), never an IndexError."""
    import numpy as np

    from facelens.core.dynamics import compute_dynamics
    from facelens.core.annotation.segments import Segment

    t = np.arange(0, 3.0, 0.1)
    v = np.where(t >= 1.0, 0.5, 0.0)
    a = np.zeros_like(t)
    segs = [Segment(1.0, 1.3, "happy"), Segment(0.0, 1.0, "neutral")]
    dyn = compute_dynamics(t, v, a, np.ones(t.size, bool), segs)
    d = json.loads(json.dumps(dyn.to_dict()))  # JSON-ready, not only truthy
    happy = d["by_label"]["happy"]
    assert happy["n_frames"] == 3 and happy["valence"]["mean"] == 0.5 and happy["valence"]["n_pairs"] == 2
    assert happy["valence"]["inertia"] is None  # 3 constant frames: undefined, never a made-up number
    assert d["by_label"]["neutral"]["n_frames"] == 10


def test_inertia_uses_each_segments_own_mean():
    # two white-noise segments at different levels are not "inert" (one pooled mean gave 0.89)
    from facelens.core.dynamics import consecutive_pairs, pooled_indices

    rng = np.random.default_rng(0)
    pieces = [(lvl + rng.normal(0, 0.05, 150), consecutive_pairs(np.ones(150, bool))) for lvl in (0.3, 0.6)]
    out = pooled_indices(pieces)
    assert abs(out.inertia) < 0.15 and out.mean == pytest.approx(0.45, abs=0.02)
