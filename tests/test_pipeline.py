"""The analysis pipeline on real recordings: progress, no-face spans, cancel + exact resume, atomicity."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.analysis.pipeline import AnalysisCancelled, analyze_to_file, run_analysis
from facelens.core.results import ResultsError, SessionResults, partial_path
from facelens.core.common.types import Quality

ARRAYS = ("time_s", "frame_index", "quality", "n_faces", "confidence", "blur", "bbox", "euler", "rotation",
          "translation", "scale", "expressions", "emotions", "valence", "arousal")


def test_noface_then_face_mov(analysed):
    with SessionResults.open(analysed("videos/pyfeat_noface_face.mov")) as r:
        t, q = r.time_s, r.quality
        assert r.n_frames == 64 and np.all(np.diff(t) > 0)
        assert np.all(q[t < 3.9] == Quality.NO_FACE)  # animated title card
        after = t > 4.0
        assert np.mean(r.usable[after]) > 0.9  # the man after the cut at 3.945 s
        assert np.isnan(r.valence[~r.usable]).all() and np.isfinite(r.valence[r.usable]).all()
        assert np.isnan(r.landmarks(0)).all() and np.isfinite(r.landmarks(r.n_frames - 1)).all()
        assert len(r.video_sha256) == 64 and r.params["backend"] == "mediapipe"
        assert r.params["device"] in ("cpu", "cuda") and r.params["fps"] == 10.0
        assert {m["id"] for m in r.models} >= {"mediapipe-face-landmark-attention", "fer2013-mini-xception"}
        # emotion probabilities of usable frames are distributions
        np.testing.assert_allclose(r.emotions[r.usable].sum(axis=1), 1.0, atol=1e-4)


def test_progress_reports_each_batch_with_partial_columns(media, tmp_path):
    out = tmp_path / "s.h5"
    seen = list(run_analysis(media / "videos/pyfeat_single_face.mp4", out, batch_size=10))
    assert [p.done for p in seen] == [10, 20, 24, 24, 24]
    assert all(p.total == 24 for p in seen)
    assert seen[-2].message == "finalising"  # the session pass (whole-session morphable fit)
    assert seen[0].partial["landmarks"].shape == (10, 478, 3) and len(seen[1].partial["valence"]) == 10
    assert seen[-1].message == "done" and out.exists()


def test_cancel_then_resume_is_identical_to_one_run(media, tmp_path, monkeypatch):
    # Small restart interval so the resume point falls inside this short clip (118 frames).
    video = media / "videos/liveportrait_d3.mp4"
    whole = analyze_to_file(video, tmp_path / "whole.h5", batch_size=16, restart_every=32)

    out = tmp_path / "cut.h5"
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] == 3  # after 48 frames, i.e. 16 past the restart point at 32

    with pytest.raises(AnalysisCancelled):
        for _ in run_analysis(video, out, batch_size=16, cancel=cancel, restart_every=32):
            pass
    assert partial_path(out).exists() and not out.exists()
    analyze_to_file(video, out, batch_size=16, resume=True, restart_every=32)
    assert not partial_path(out).exists()
    with SessionResults.open(whole) as a, SessionResults.open(out) as b:
        assert a.n_frames == b.n_frames == 118
        for name in ARRAYS:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_array_equal(a.landmarks(slice(None)), b.landmarks(slice(None)))
        assert a.usable.sum() > 100


def test_crash_mid_analysis_never_leaves_final_file(media, tmp_path):
    out = tmp_path / "s.h5"

    def boom() -> bool:
        raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        analyze_to_file(media / "videos/pyfeat_single_face.mp4", out, batch_size=8, cancel=boom)
    assert not out.exists() and partial_path(out).exists()
    with pytest.raises(ResultsError, match="not finished"):
        SessionResults.open(out)


def test_image_is_analysed_as_one_frame(media, tmp_path):
    out = analyze_to_file(media / "images/pyfeat_happy_single_face.jpg", tmp_path / "img.h5")
    with SessionResults.open(out) as r:
        assert r.n_frames == 1 and r.usable[0]
        assert r.emotion_labels[int(np.argmax(r.emotions[0]))] == "happy"
