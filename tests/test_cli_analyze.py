"""`facelens analyze / info / export` as a user runs them: exit codes, one-line errors, files."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from facelens.cli import main
from facelens.core.results import SessionResults, partial_path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "facelens", *args], capture_output=True, text=True, timeout=300)


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.startswith("facelens:") or "Traceback" in ln]


@pytest.mark.parametrize("kind", ["missing", "empty", "text", "truncated"])
def test_unusable_input_exits_2_with_one_line(tmp_path, media, kind):
    src = tmp_path / "in.mp4"
    if kind == "empty":
        src.write_bytes(b"")
    elif kind == "text":
        src.write_text("not a video at all\n" * 100)
    elif kind == "truncated":
        data = (media / "videos/pyfeat_single_face.mp4").read_bytes()
        src.write_bytes(data[: len(data) // 2])
    out = tmp_path / "r.h5"
    proc = _run("analyze", str(src), "-o", str(out))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = _error_lines(proc.stderr)
    assert len(errors) == 1 and errors[0].startswith("facelens: error: ")
    assert not out.exists() and not partial_path(out).exists()


def test_faceless_video_exits_3_and_still_writes_results(tmp_path):
    import av

    video = tmp_path / "noise.mp4"
    rng = np.random.default_rng(0)
    with av.open(str(video), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
        for _ in range(15):
            img = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    out = tmp_path / "noise.h5"
    assert main(["analyze", str(video), "-o", str(out)]) == 3
    with SessionResults.open(out) as r:
        assert r.n_frames == 15 and not r.usable.any() and (r.n_faces == 0).all()


def test_analyze_info_export(tmp_path, media, capsys):
    out = tmp_path / "s.h5"
    assert main(["analyze", str(media / "videos/pyfeat_single_face.mp4"), "-o", str(out)]) == 0
    assert out.exists()
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "24 frames" in info and "mean pose" in info and "fer2013-mini-xception" in info

    csv, pq = tmp_path / "s.csv", tmp_path / "s.parquet"
    assert main(["export", str(out), "--csv", str(csv), "--parquet", str(pq), "--landmarks"]) == 0
    import pandas as pd

    a, b = pd.read_csv(csv), pd.read_parquet(pq)
    with SessionResults.open(out) as r:  # schema 2: the morphable fit's coefficients and residual too
        n_coef = r.coef_exp.shape[1] + r.coef_id.shape[1] + 1
    assert n_coef > 1 and {"coef_exp_0", "coef_id_0", "fit_residual"} <= set(a.columns)
    assert a.shape == b.shape == (24, 7 + 20 + 7 + 2 + n_coef + 3 * 478)
    assert list(a.columns[:7]) == ["time_s", "frame_index", "face_ok", "quality", "yaw", "pitch", "roll"]
    assert {"expr_mouth_open", "emo_happy", "valence", "arousal", "x_0", "z_477"} <= set(a.columns)
    with SessionResults.open(out) as r:
        np.testing.assert_allclose(a["time_s"], r.time_s)
        np.testing.assert_allclose(a["yaw"], r.euler[:, 0], rtol=1e-6)
        np.testing.assert_allclose(a["x_10"], r.landmarks(slice(None))[:, 10, 0], rtol=1e-6)
    assert (a["quality"] == "ok").all() and (a["face_ok"] == 1).all()
    # smile onset (≈0.6 s): 'happy' dominates the second half
    assert a.loc[a.time_s > 1.2, "emo_happy"].mean() > 0.5


def test_info_and_export_refuse_bad_files(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_text("nope")
    for args in (["info", str(bad)], ["export", str(bad), "--csv", str(tmp_path / "o.csv")]):
        proc = _run(*args)
        assert proc.returncode == 2 and len(_error_lines(proc.stderr)) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.csv").exists()


def test_ctrl_c_leaves_resumable_partial(tmp_path, media):
    import re
    import signal
    import threading
    import time

    out = tmp_path / "w.h5"
    video = media / "videos/pyfeat_WolfgangLanger_Pexels.mp4"
    proc = subprocess.Popen([sys.executable, "-m", "facelens", "analyze", str(video), "-o", str(out),
                             "--batch-size", "8"], stderr=subprocess.PIPE, text=True)
    part = partial_path(out)
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: proc.stderr.read(1), "")), daemon=True)
    reader.start()
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # wait until the bar shows frames on disk
        done = [int(m) for m in re.findall(r"(\d+)/197", "".join(chunks))]
        if done and max(done) >= 16:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    reader.join(timeout=10)
    err = "".join(chunks)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert part.exists() and not out.exists()
    assert main(["analyze", str(video), "-o", str(out), "--resume"]) == 0
    with SessionResults.open(out) as r:
        assert r.n_frames == 197


def test_workers_option(tmp_path, media, monkeypatch, capsys):
    from facelens.core.analysis import engines

    video = str(media / "videos/pyfeat_single_face.mp4")
    a, b = tmp_path / "a.h5", tmp_path / "b.h5"
    short = ["--restart-every", "8"]  # 24 frames: three chunks side by side
    assert main(["analyze", video, "-o", str(a), "--workers", "1", *short]) == 0
    assert main(["analyze", video, "-o", str(b), "--workers", "auto", *short]) == 0
    with SessionResults.open(a) as ra, SessionResults.open(b) as rb:
        assert ra.params["workers"] == 1 and rb.params["workers"] == engines.default_workers()
        for name in ("quality", "confidence", "expressions", "emotions", "valence", "arousal"):
            assert np.array_equal(getattr(ra, name), getattr(rb, name), equal_nan=True), name
        assert np.array_equal(ra.landmarks(slice(None)), rb.landmarks(slice(None)))
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit) as exc:
            main(["analyze", video, "-o", str(tmp_path / "c.h5"), "--workers", bad])
        assert exc.value.code == 2
        assert "--workers: expected a positive integer or auto" in capsys.readouterr().err


def test_analyze_refuses_to_overwrite_its_input_or_a_foreign_file(tmp_path, media):
    """A typo must never destroy the recording or someone else's file."""
    import shutil

    from facelens.cli import main

    video = tmp_path / "copy.mp4"
    shutil.copy(media / "videos" / "pyfeat_single_face.mp4", video)
    before = video.read_bytes()
    assert main(["analyze", str(video), "-o", str(video)]) == 2  # wrong suffix and same file
    same = tmp_path / "clip.h5"
    shutil.copy(video, same)
    assert main(["analyze", str(same), "-o", str(same)]) == 2  # same file, right suffix
    foreign = tmp_path / "other.h5"
    foreign.write_bytes(b"not a facelens file")
    assert main(["analyze", str(video), "-o", str(foreign)]) == 2
    assert foreign.read_bytes() == b"not a facelens file"
    assert video.read_bytes() == before


def test_export_refuses_to_overwrite_the_results_file(tmp_path, analysed):
    from facelens.cli import main

    res = tmp_path / "r.h5"
    res.write_bytes(analysed("videos/pyfeat_single_face.mp4").read_bytes())
    before = res.read_bytes()
    assert main(["export", str(res), "--csv", str(res)]) == 2
    assert res.read_bytes() == before
    out = tmp_path / "frames.csv"
    assert main(["export", str(res), "--csv", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600  # patient data: owner-only, like every other output
