"""A reviewer's exclusions: spans labelled ``exclude`` leave every statistic, overlap any label, and
the report counts them."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.annotation import exclusions
from facelens.core.annotation.segments import Segment
from facelens.core.diagnosis.features import SessionSeries, subject_features
from facelens.core.dynamics.session import compute_dynamics
from facelens.viewmodel.annotation_rules import check_overlap, conflicting_ids


def _series(seed: int = 1, n: int = 300):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / 10.0
    v = np.clip(np.cumsum(rng.normal(scale=0.05, size=n)), -1, 1)
    a = np.clip(np.cumsum(rng.normal(scale=0.05, size=n)), -1, 1)
    usable = rng.random(n) > 0.05
    segs = [Segment(0.0, 10.0, "neutral"), Segment(10.0, 20.0, "happy"), Segment(20.0, 30.0, "sad")]
    return t, v, a, usable, segs


def test_an_exclusion_is_the_same_as_its_frames_being_unusable():
    t, v, a, usable, segs = _series()
    cut = [Segment(12.0, 14.5, "exclude"), Segment(25.0, 26.0, "Exclude")]  # any case
    masked = usable & ~(((t >= 12.0) & (t < 14.5)) | ((t >= 25.0) & (t < 26.0)))
    with_cut = compute_dynamics(t, v, a, usable, segs + cut)
    by_hand = compute_dynamics(t, v, a, masked, segs)
    assert set(with_cut.by_label) == set(by_hand.by_label) and "exclude" not in with_cut.by_label
    for lab in ("happy", "sad", "neutral"):
        x, y = with_cut.by_label[lab], by_hand.by_label[lab]
        assert (x.n_valid, x.n_segments) == (y.n_valid, y.n_segments)
        assert x.valence.mean == pytest.approx(y.valence.mean) and x.arousal.mssd == pytest.approx(y.arousal.mssd)
    assert [s.label for s in with_cut.segments] == ["neutral", "happy", "sad"]
    # and it changes something: the excluded frames were usable
    plain = compute_dynamics(t, v, a, usable, segs)
    assert plain.by_label["happy"].n_valid > with_cut.by_label["happy"].n_valid
    # the subject features (the BD-vs-MDD prediction's inputs) follow the same rule
    f_cut = subject_features([SessionSeries(t, v, a, usable, segs + cut)])
    f_hand = subject_features([SessionSeries(t, v, a, masked, segs)])
    assert f_cut.n_valid == f_hand.n_valid and f_cut.seconds == f_hand.seconds
    np.testing.assert_array_equal(f_cut.vector(), f_hand.vector())


def test_exclusions_overlap_any_label_while_other_labels_keep_the_rule():
    segs = [Segment(0.0, 10.0, "happy", id="h"), Segment(10.0, 20.0, "sad", id="s")]
    assert check_overlap("refuse", segs, 4.0, 12.0, "exclude") == ""  # across two labels
    with_cut = segs + [Segment(4.0, 12.0, "exclude", id="x")]
    assert check_overlap("refuse", with_cut, 3.0, 5.0, "neutral") != ""  # still overlaps happy
    assert "exclude" not in check_overlap("refuse", with_cut, 3.0, 5.0, "neutral")
    assert check_overlap("refuse", with_cut, 0.0, 9.0, "happy", exclude_id="h") == ""  # moving happy over it
    assert conflicting_ids(with_cut) == set()
    assert exclusions.labelled(with_cut) == segs
    assert exclusions.excluded_mask(np.array([3.9, 4.0, 11.9, 12.0]), with_cut).tolist() == [False, True, True, False]


@pytest.mark.slow
def test_the_report_leaves_excluded_frames_out_and_says_so(analysed, tmp_path):
    from facelens.core.report_content.build import build_content
    from facelens.core.results import SessionResults

    h5 = analysed("videos/pyfeat_WolfgangLanger_Pexels.mp4")
    segs = [Segment(0.0, 9.0, "sad"), Segment(10.0, 19.6, "happy")]
    cut = Segment(12.0, 15.0, "exclude")
    with SessionResults.open(h5) as res:
        plain = {type(s).__name__: s for s in build_content(res, segs).sections}
        cont = {type(s).__name__: s for s in build_content(res, segs + [cut]).sections}
        only = {type(s).__name__: s for s in build_content(res, [cut]).sections}
        inside = (res.time_s >= 12.0) & (res.time_s < 15.0)
        n_in_valid = int((inside & res.valid_va).sum())
    assert n_in_valid > 10
    q = cont["QualitySection"]
    assert q.exclusions == [(12.0, 15.0)] and q.n_excluded == int(inside.sum()) and q.n_excluded_usable == n_in_valid
    assert q.n_valid == plain["QualitySection"].n_valid - n_in_valid
    assert [s.label for s in q.segments] == ["sad", "happy"]
    happy = [s for s in q.segments if s.label == "happy"][0]
    assert happy.n_valid == [s for s in plain["QualitySection"].segments if s.label == "happy"][0].n_valid - n_in_valid
    series = cont["AffectSeriesSection"]
    assert np.isnan(series.valence[inside]).all() and series.n_valid == q.n_valid
    assert ("exclude", 12.0, 15.0) in series.segments  # drawn as a band
    assert [r.label for r in cont["VATableSection"].rows] == [r.label for r in plain["VATableSection"].rows]
    assert cont["VATableSection"].unavailable == ""
    assert "only exclusions" in only["VATableSection"].unavailable  # not "no valid frame"


def test_the_report_renders_the_exclusion_line(analysed, tmp_path):
    import subprocess

    from facelens.core.annotation.segments import write_segments_csv
    from facelens.report import build_report_for_files

    h5 = analysed("videos/pyfeat_WolfgangLanger_Pexels.mp4")
    csv = write_segments_csv([Segment(0.0, 9.0, "sad"), Segment(10.0, 19.6, "happy"),
                              Segment(12.0, 15.0, "exclude")], tmp_path / "segs.csv")
    out = build_report_for_files(h5, csv, tmp_path / "r.pdf")
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                                   check=True).stdout.split())
    assert "Excluded by the reviewer" in text and "12.0–15.0 s" in text


def test_the_batch_row_leaves_exclusions_out(analysed):
    from facelens.core.analysis.batch.rows import session_row
    from facelens.core.results import SessionResults

    segs = [Segment(0.0, 9.0, "sad"), Segment(10.0, 19.6, "happy")]
    with SessionResults.open(analysed("videos/pyfeat_WolfgangLanger_Pexels.mp4")) as res:
        plain = session_row(res, segs)
        cut = session_row(res, segs + [Segment(12.0, 15.0, "exclude")])
    assert cut["n_segments"] == 2 and not any(k.startswith("label_exclude") for k in cut)
    assert cut["label_happy_valence_mean"] != plain["label_happy_valence_mean"]
    assert cut["label_happy_n_frames"] == plain["label_happy_n_frames"]  # frames of the span; usable ones drop
