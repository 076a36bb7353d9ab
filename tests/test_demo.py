"""The synthetic demo session: generation, reuse, and the analysis finding the scripted expressions."""
from __future__ import annotations

import hashlib
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest

from facelens.core.demo.session import NOTICE, DemoError, build_demo, plateau_means, read_script
from facelens.core.annotation.segments import read_segments_csv

SHORT_S = 12.0  # a short build keeps the generation-only tests at a few seconds


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def short_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("short_demo")
    return build_demo(out, analyse=False, duration_s=SHORT_S, fps=25.0, seed=3)


def test_script_covers_the_video_and_segments_follow_it(short_demo):
    spans = read_script(short_demo.script)
    assert spans[0].start_s == 0.0 and spans[-1].end_s == pytest.approx(SHORT_S)
    assert all(a.end_s == pytest.approx(b.start_s) for a, b in itertools.pairwise(spans))
    assert {s.expression for s in spans} == {"neutral", "smile", "sad", "surprise"}
    segs = read_segments_csv(short_demo.segments_csv)
    labelled = [s for s in spans if s.expression != "surprise"]  # surprise has no happy/sad/neutral label
    assert len(segs) == len(labelled)
    expected = {"neutral": "neutral", "smile": "happy", "sad": "sad"}
    for seg, span in zip(segs, labelled):
        assert (seg.start_s, seg.end_s) == pytest.approx((span.start_s, span.end_s))
        assert seg.label == expected[span.expression]
        assert seg.scenario == "elicitation video" and seg.author == "demo script"
    assert short_demo.notice == NOTICE and "not a patient recording" in NOTICE


def test_video_decodes_with_the_scripted_duration(short_demo):
    import av

    with av.open(str(short_demo.video)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"
        times = [float(f.pts * f.time_base) for f in c.decode(s)]
    assert len(times) == round(SHORT_S * 25.0)
    assert times[0] == pytest.approx(0.0) and times[-1] + 1 / 25.0 == pytest.approx(SHORT_S, abs=1e-6)
    assert np.all(np.diff(times) > 0)


def test_tracked_mesh_follows_the_script_in_single_frames(short_demo):
    """Mediapipe + geometry on one mid-span frame per expression (no pipeline needed)."""
    from facelens.core.face.geometry import EXPRESSION_NAMES, expression_measures
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_media

    spans = read_script(short_demo.script)
    mid = {s.expression: (s.start_s + s.end_s) / 2 for s in reversed(spans)}  # first span of each
    got = {}
    with open_media(short_demo.video) as sess, FaceTracker(static=True) as tracker:
        for expr, t in mid.items():
            obs = tracker.process(sess.frame_at(t).rgb)
            assert obs.landmarks is not None, f"no face at {t:.1f} s ({expr})"
            got[expr] = dict(zip(EXPRESSION_NAMES, expression_measures(obs.landmarks)))
    n, smile, sad, surprise = got["neutral"], got["smile"], got["sad"], got["surprise"]
    assert smile["lip_corner_pull_l"] > n["lip_corner_pull_l"] + 0.02
    assert smile["lip_corner_pull_r"] > n["lip_corner_pull_r"] + 0.02
    assert sad["lip_corner_depress"] > n["lip_corner_depress"] + 0.02
    assert surprise["mouth_open"] > n["mouth_open"] + 0.05


def test_reuse_is_fast_and_identical(short_demo):
    out = short_demo.video.parent
    files = [short_demo.video, short_demo.script, short_demo.segments_csv, out / "demo.json"]
    before = {p: (_sha(p), p.stat().st_mtime_ns) for p in files}
    t0 = time.perf_counter()
    again = build_demo(out, analyse=False, duration_s=SHORT_S, fps=25.0, seed=3)
    print(f"reuse took {time.perf_counter() - t0:.3f} s (first build {short_demo.generation_s:.1f} s)")
    assert again.reused and not short_demo.reused
    assert {p: (_sha(p), p.stat().st_mtime_ns) for p in files} == before


def test_damaged_output_is_regenerated(tmp_path):
    first = build_demo(tmp_path, analyse=False, duration_s=3.0, seed=1)
    good = _sha(first.video)
    with open(first.video, "r+b") as f:  # truncate the video: the manifest hash no longer matches
        f.truncate(1000)
    second = build_demo(tmp_path, analyse=False, duration_s=3.0, seed=1)
    assert not second.reused and _sha(second.video) == good  # x264 output is deterministic
    manifest = json.loads((tmp_path / "demo.json").read_text())
    assert manifest["files"]["video"]["sha256"] == good
    third = build_demo(tmp_path, analyse=False, duration_s=3.0, seed=2)  # other head motion
    assert not third.reused and _sha(third.video) != good
    assert not list(tmp_path.glob("*.partial")) and not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("kwargs", [{"duration_s": 0.0}, {"duration_s": float("nan")}, {"fps": 1000.0}])
def test_bad_arguments_are_refused(tmp_path, kwargs):
    with pytest.raises(DemoError):
        build_demo(tmp_path, analyse=False, **kwargs)
    assert not (tmp_path / "demo.mp4").exists()


def test_cli_refuses_bad_duration_in_one_line(capsys, tmp_path):
    from facelens.cli import main

    assert main(["demo", "--out", str(tmp_path), "--duration", "-5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("facelens: error:") and "\n" not in err


# ---- the analysed demo (needs the analysis pipeline) ------------------------------------------


@pytest.fixture(scope="module")
def analysed_demo(demo_session):
    from facelens.core.results import SessionResults

    assert demo_session.results is not None
    with SessionResults.open(demo_session.results) as res:
        cols = {"time_s": res.time_s.copy(), "usable": res.usable.copy(),
                "expressions": np.asarray(res.expressions, float), "names": list(res.expression_names),
                "is_demo": res.is_demo, "n": res.n_frames, "duration_s": res.duration_s}
    means = plateau_means(cols["time_s"], cols["usable"], cols["expressions"], demo_session.spans,
                          demo_session.ramp_s)
    return demo_session, cols, means


@pytest.mark.slow
def test_demo_results_are_marked_and_tracked(analysed_demo):
    _, cols, _ = analysed_demo
    assert cols["is_demo"]
    assert cols["duration_s"] == pytest.approx(60.0, abs=0.05)
    assert abs(cols["n"] - 600) <= 1  # 60 s sampled at 10 fps
    assert cols["usable"].mean() >= 0.97


@pytest.mark.slow
def test_measures_follow_the_script(analysed_demo):
    _, cols, means = analysed_demo
    names = cols["names"]

    def m(expr: str, *measures: str) -> float:
        return float(np.mean([means[expr][0][names.index(n)] for n in measures]))

    pull = ("lip_corner_pull_l", "lip_corner_pull_r")
    assert m("smile", *pull) > m("neutral", *pull) + 0.02
    assert m("sad", "lip_corner_depress") > m("neutral", "lip_corner_depress") + 0.02
    brows = ("inner_brow_raise_l", "inner_brow_raise_r")
    assert m("sad", *brows) > m("neutral", *brows) + 0.005
    assert m("surprise", "mouth_open") > m("neutral", "mouth_open") + 0.05
    assert m("surprise", "jaw_drop") > m("neutral", "jaw_drop") + 0.03
    # and not the other way round: a smile does not read as depressed lip corners
    assert m("smile", "lip_corner_depress") < m("neutral", "lip_corner_depress")


@pytest.mark.slow
def test_cli_summary_reuses_the_analysed_demo(demo_session, capsys):
    from facelens.cli import main

    before = _sha(demo_session.results)
    assert main(["demo", "--out", str(demo_session.video.parent)]) == 0
    out = capsys.readouterr().out
    assert NOTICE in out and "reused existing output" in out
    assert "frames analysed" in out and "Discarded:" in out and "lip_corner_pull_l" in out
    assert _sha(demo_session.results) == before


def test_an_analysis_made_with_another_estimator_is_not_reused(tmp_path):
    """A demo analysed before the default estimator changed is analysed again (no stale numbers)."""
    from facelens.core.affect.choice import DEFAULT_ESTIMATOR
    from facelens.core.results import SessionResults

    first = build_demo(tmp_path, duration_s=3.0, seed=1)
    manifest = json.loads((tmp_path / "demo.json").read_text())
    assert manifest["va_estimator"] == DEFAULT_ESTIMATOR
    assert build_demo(tmp_path, duration_s=3.0, seed=1).reused
    manifest["va_estimator"] = "circumplex" if DEFAULT_ESTIMATOR != "circumplex" else "g"
    (tmp_path / "demo.json").write_text(json.dumps(manifest))
    again = build_demo(tmp_path, duration_s=3.0, seed=1)
    assert not again.reused and again.analysis_s > 0
    with SessionResults.open(first.results) as r:
        assert r.meta["va_estimator"] == DEFAULT_ESTIMATOR
