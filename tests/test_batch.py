"""Batch analysis on the real recordings: local pool, Dask LocalCluster, broken entries, kill + re-run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from facelens.core.analysis.batch import ManifestError, read_batch_manifest, run_batch
from facelens.core.analysis.batch.task import read_progress

REPO = Path(__file__).resolve().parents[1]
FPS = 5.0  # short batches on a shared 2-core machine
BATCH = 8  # frames per pipeline batch: the same everywhere (torch results depend on the batch size)
SMILE, POSED = "videos/pyfeat_single_face.mp4", "videos/liveportrait_d3.mp4"
ARRAYS = ("time_s", "frame_index", "quality", "landmarks", "euler", "expressions", "emotions", "valence", "arousal")


def _manifest(folder: Path, media: Path, broken: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "smile_segments.csv").write_text("start_s,end_s,label\n0.0,0.6,neutral\n0.6,2.4,happy\n")
    lines = ["video,subject_id,diagnosis,segments",
             f"{media / SMILE},S01,BD,smile_segments.csv",
             f"{media / POSED},S02,MDD,"]
    if broken:
        (folder / "corrupt.mp4").write_bytes(os.urandom(4096))  # not a video at all
        lines += ["missing.mp4,S03,BD,", "corrupt.mp4,S04,MDD,"]
    p = folder / "manifest.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def _assert_same_results(a: Path, b: Path) -> None:
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        assert fa.attrs["n_done"] == fb.attrs["n_done"]
        for name in ARRAYS:
            np.testing.assert_array_equal(fa["frames"][name][:], fb["frames"][name][:], err_msg=name)


def _rows(csv: Path) -> pd.DataFrame:
    return pd.read_csv(csv, keep_default_na=False).set_index("session_id")


@pytest.fixture(scope="module")
def pool_run(tmp_path_factory, media):
    root = tmp_path_factory.mktemp("batch")
    manifest = _manifest(root / "in", media, broken=True)
    out = root / "pool"
    result = run_batch(read_batch_manifest(manifest), out, workers=2, fps=FPS, device="cpu", batch_size=BATCH)
    return manifest, out, result


def test_manifest_checks(tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("path,subject_id\nx.mp4,S1\n")
    with pytest.raises(ManifestError, match="'video' column"):
        read_batch_manifest(bad)
    with pytest.raises(ManifestError, match="not found"):
        read_batch_manifest(tmp_path / "nope.csv")
    ok = tmp_path / "sub" / "m.csv"
    ok.parent.mkdir()
    ok.write_text("video,segments\na/s1.mp4,s.csv\nb/s1.mp4,\n/abs/x y.mov,\n")
    e = read_batch_manifest(ok)
    assert [x.session_id for x in e] == ["s1", "s1_2", "x_y"]  # stable, unique, file-system-safe names
    assert e[0].video == ok.parent.resolve() / "a" / "s1.mp4" and e[0].segments == ok.parent.resolve() / "s.csv"
    assert e[1].segments is None and e[2].video == Path("/abs/x y.mov")


def test_pool_batch_reports_broken_entries_and_finishes_the_rest(pool_run):
    _, out, result = pool_run
    by_id = {o.session_id: o for o in result.outcomes}
    assert by_id["pyfeat_single_face"].status == "ok" and by_id["liveportrait_d3"].status == "ok"
    assert by_id["missing"].status == "failed" and "not found" in by_id["missing"].reason
    assert by_id["corrupt"].status == "failed" and "corrupt.mp4" in by_id["corrupt"].reason
    assert "\n" not in by_id["corrupt"].reason

    rows = _rows(out / "cohort.csv")
    assert list(rows.index) == ["pyfeat_single_face", "liveportrait_d3", "missing", "corrupt"]
    assert list(rows["status"]) == ["ok", "ok", "failed", "failed"]
    fails = pd.read_csv(out / "failures.csv", keep_default_na=False)
    assert list(fails["session"]) == ["missing", "corrupt"] and list(fails.columns[:2]) == ["session", "reason"]
    pq = pd.read_parquet(out / "cohort.parquet").set_index("session_id")
    assert list(pq.columns) == list(rows.columns)
    np.testing.assert_allclose(pq["session_valence_mean"].astype(float).to_numpy(),
                               pd.to_numeric(rows["session_valence_mean"]).to_numpy(), equal_nan=True)

    from facelens.core.results import SessionResults

    for sid in ("pyfeat_single_face", "liveportrait_d3"):
        with SessionResults.open(out / rows.loc[sid, "results"]) as r:
            assert int(rows.loc[sid, "n_frames"]) == r.n_frames > 0
            assert int(rows.loc[sid, "n_usable"]) == int(r.usable.sum())
            assert r.params["fps"] == FPS
    smile = rows.loc["pyfeat_single_face"]
    assert int(smile["label_happy_n_segments"]) == 1 and int(smile["label_neutral_n_segments"]) == 1
    # a broad smile from 0.6 s: higher valence in the happy segment than in the neutral one
    assert float(smile["label_happy_valence_mean"]) > float(smile["label_neutral_valence_mean"])
    assert rows.loc["liveportrait_d3", "label_happy_valence_mean"] == ""  # no segments given
    leftovers = [p.name for p in out.rglob("*") if p.name.endswith((".partial", ".tmp"))]
    assert leftovers == []


def test_rerun_skips_finished_sessions_with_identical_tables(pool_run, tmp_path):
    manifest, out, _ = pool_run
    before = (out / "cohort.csv").read_bytes()
    again = run_batch(read_batch_manifest(manifest), out, workers=1, fps=FPS, device="cpu")
    assert [o.skipped for o in again.outcomes if o.status == "ok"] == [True, True]
    assert (out / "cohort.csv").read_bytes() == before


def test_cli_exit_codes(pool_run, tmp_path, capsys):
    from facelens.cli import main

    manifest, out, _ = pool_run
    assert main(["batch", str(manifest), "--out", str(out), "--fps", str(FPS), "--device", "cpu"]) == 1
    assert "failed: missing" in capsys.readouterr().err
    assert main(["batch", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 2
    ok = tmp_path / "ok.csv"
    ok.write_text(f"video\n{out.parent / 'in' / 'smile_segments.csv'}\n")  # a CSV is no video: fails
    assert main(["batch", str(ok), "--out", str(tmp_path / "o"), "--workers", "0"]) == 2


def test_dask_local_cluster_gives_the_pool_results(pool_run, tmp_path, media):
    from distributed import LocalCluster

    from facelens.cli import main

    manifest, pool_out, _ = pool_run
    sub = tmp_path / "manifest.csv"
    sub.write_text(f"video,segments\n{media / SMILE},{manifest.parent / 'smile_segments.csv'}\nmissing.mp4,\n")
    out = tmp_path / "dask"
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, death_timeout=60) as cluster:
        code = main(["batch", str(sub), "--out", str(out), "--scheduler", cluster.scheduler_address,
                     "--fps", str(FPS), "--device", "cpu", "--batch-size", str(BATCH)])
    assert code == 1  # the missing entry
    rows = _rows(out / "cohort.csv")
    assert list(rows["status"]) == ["ok", "failed"] and "not found" in rows.loc["missing", "reason"]
    _assert_same_results(out / "sessions" / "pyfeat_single_face.h5", pool_out / "sessions" / "pyfeat_single_face.h5")
    pool_rows = _rows(pool_out / "cohort.csv")
    measures = [c for c in rows.columns if c.startswith(("n_", "session_", "label_"))]
    pd.testing.assert_series_equal(rows.loc["pyfeat_single_face", measures],
                                   pool_rows.loc["pyfeat_single_face", measures])


def test_killed_batch_resumes_to_identical_results(pool_run, tmp_path, media):
    _, pool_out, _ = pool_run
    manifest = _manifest(tmp_path / "in", media, broken=False)
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "facelens", "batch", str(manifest), "--out", str(out), "--workers", "2",
           "--fps", str(FPS), "--device", "cpu", "--batch-size", str(BATCH)]
    proc = subprocess.Popen(cmd, cwd=REPO, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    progress = out / "progress" / "liveportrait_d3.json"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            st = read_progress(progress)
            if st.get("state") == "running" and 0 < st.get("done", 0) < st.get("total", 0):
                break
            time.sleep(0.1)
        else:
            pytest.fail("the batch never reported partial progress on liveportrait_d3")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the batch and its pool workers, mid-session
        proc.wait(timeout=30)
    assert not (out / "sessions" / "liveportrait_d3.h5").exists()
    assert not (out / "cohort.csv").exists()
    assert (out / "sessions" / "liveportrait_d3.h5.partial").exists()

    result = run_batch(read_batch_manifest(manifest), out, workers=2, fps=FPS, device="cpu", batch_size=BATCH)
    assert all(o.status == "ok" for o in result.outcomes)
    assert {o.session_id: o.resumed for o in result.outcomes}["liveportrait_d3"]
    for sid in ("pyfeat_single_face", "liveportrait_d3"):
        _assert_same_results(out / "sessions" / f"{sid}.h5", pool_out / "sessions" / f"{sid}.h5")
    rows = pd.read_csv(out / "cohort.csv").set_index("session_id")
    pool_rows = pd.read_csv(pool_out / "cohort.csv").set_index("session_id")
    measures = [c for c in rows.columns if c.startswith(("n_", "session_", "label_"))]
    # same numbers; only the dtypes differ (the pool table has failed rows, hence NaN in counts)
    pd.testing.assert_frame_equal(rows[measures], pool_rows.loc[rows.index, measures], check_dtype=False)


def _crash_on_marked(task):
    """Stand-in session work: the session named 'crash' kills its worker process outright."""
    from facelens.core.analysis.batch import SessionOutcome
    from facelens.core.analysis.batch.task import write_progress

    write_progress(task.progress_path, {"state": "running", "done": 0, "total": 1})
    if task.session_id == "crash":
        os._exit(3)  # like a segfault in native code: no exception, the process is just gone
    time.sleep(0.2)
    return SessionOutcome(task.session_id, "ok", n_frames=1, row={"n_frames": 1})


def test_a_dying_worker_fails_only_its_session(tmp_path):
    from facelens.core.analysis.batch import BatchEntry

    entries = [BatchEntry(session_id=s, video=tmp_path / f"{s}.mp4") for s in ("a", "crash", "b", "c")]
    result = run_batch(entries, tmp_path / "out", workers=2, task_fn=_crash_on_marked)
    status = {o.session_id: o.status for o in result.outcomes}
    assert status == {"a": "ok", "crash": "failed", "b": "ok", "c": "ok"}
    assert "worker process died" in result.failed[0].reason
    fails = pd.read_csv(tmp_path / "out" / "failures.csv")
    assert list(fails["session"]) == ["crash"]


def test_a_tilde_path_of_an_unknown_user_stays_as_written(tmp_path):
    from facelens.core.analysis.batch.manifest import read_batch_manifest

    manifest = tmp_path / "m.csv"
    manifest.write_text("video\n~no_such_user_facelens/a.mp4\n~/b.mp4\n", encoding="utf-8")
    first, second = read_batch_manifest(manifest)  # Path.expanduser raised RuntimeError on the first
    assert first.video == tmp_path / "~no_such_user_facelens" / "a.mp4"
    assert second.video == Path.home() / "b.mp4"
