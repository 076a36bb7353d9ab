"""Chunk-parallel mediapipe tracking (``facelens.core.analysis.chunk_threads``): identical to the sequential run.

Small restart intervals so that short clips have several chunks; ``workers=1`` is the sequential
reference (decoder thread + frame-by-frame tracking, the path every earlier release used).
"""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from facelens.core.analysis import chunks as chunked

from facelens.core.analysis import pipeline
from facelens.core.analysis.chunks import ChunkMismatch
from facelens.core.results import SessionResults, partial_path

CLIP = "videos/liveportrait_d3.mp4"  # 118 sampled frames, a face throughout, some LOW_CONFIDENCE
ARRAYS = ("time_s", "frame_index", "quality", "n_faces", "confidence", "blur", "bbox", "euler", "rotation",
          "translation", "scale", "expressions", "emotions", "valence", "arousal")


def _arrays(path):
    with SessionResults.open(path) as r:
        cols = {k: getattr(r, k) for k in ARRAYS}
        cols["landmarks"] = r.landmarks(slice(None))
        return cols, r.params


def _assert_identical(a, b):
    for k in a:
        assert np.array_equal(a[k], b[k], equal_nan=a[k].dtype.kind == "f"), k


@pytest.fixture(scope="module")
def sequential(media, tmp_path_factory):
    out = tmp_path_factory.mktemp("seq") / "seq.h5"
    pipeline.analyze_to_file(media / CLIP, out, batch_size=10, workers=1, restart_every=25)
    return _arrays(out)


def test_two_workers_equal_the_sequential_run(media, tmp_path, monkeypatch, sequential):
    progress = list(pipeline.run_analysis(media / CLIP, tmp_path / "par.h5", batch_size=10, workers=2, restart_every=25))
    got, params = _arrays(tmp_path / "par.h5")
    ref, ref_params = sequential
    assert len(got["time_s"]) == 118 and params["workers"] == 2 and ref_params["workers"] == 1
    assert got["quality"].min() == 0 and np.isfinite(got["valence"]).sum() > 100  # real faces, real VA
    _assert_identical(ref, got)
    # blocks are cut as the sequential loop cuts them: 10 rows, never across a restart point
    done = [p.done for p in progress if p.message not in ("finalising", "done")]
    assert done[:4] == [10, 20, 25, 35] and done[-1] == 118 and np.all(np.diff(done) > 0)


def test_three_workers_cancel_then_resume(media, tmp_path, monkeypatch, sequential):
    out = tmp_path / "cut.h5"
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] == 5  # inside the third chunk (after 10, 20, 25, 35, 45 frames)

    with pytest.raises(pipeline.AnalysisCancelled) as exc:
        for _ in pipeline.run_analysis(media / CLIP, out, batch_size=10, workers=3, cancel=cancel, restart_every=25):
            pass
    assert exc.value.done == 45
    assert partial_path(out).exists() and not out.exists()
    pipeline.analyze_to_file(media / CLIP, out, batch_size=10, workers=2, resume=True, restart_every=25)
    _assert_identical(sequential[0], _arrays(out)[0])


def test_seek_mismatch_falls_back_to_sequential(media, tmp_path, monkeypatch, sequential):
    real = chunked.iter_chunk
    seen = []

    def flaky(session, plan, first, stop, *args):
        seen.append(first)
        if first >= 50:
            raise ChunkMismatch("simulated")
        yield from real(session, plan, first, stop, *args)

    monkeypatch.setattr("facelens.core.analysis.chunk_threads.iter_chunk", flaky)
    out = pipeline.analyze_to_file(media / CLIP, tmp_path / "fb.h5", batch_size=10, workers=2, restart_every=25)
    assert 50 in seen
    _assert_identical(sequential[0], _arrays(out)[0])


def test_decoding_error_after_a_seek_falls_back_too(media, tmp_path, monkeypatch, sequential):
    import av
    real = chunked.iter_chunk

    def broken(session, plan, first, stop, *args):
        for k, f in enumerate(real(session, plan, first, stop, *args)):
            if first == 75 and k == 3:
                raise av.InvalidDataError(1094995529, "simulated", "x.mp4")
            yield f

    monkeypatch.setattr("facelens.core.analysis.chunk_threads.iter_chunk", broken)
    out = pipeline.analyze_to_file(media / CLIP, tmp_path / "fb2.h5", batch_size=10, workers=2, restart_every=25)
    _assert_identical(sequential[0], _arrays(out)[0])


def test_worker_error_surfaces_and_leaves_a_resumable_partial(media, tmp_path, monkeypatch):
    from facelens.core.analysis import chunk_threads

    real = chunk_threads.frame_columns

    def failing(frames, obs, config):
        if frames[0].index >= 50:  # the third chunk (frames 50-74) fails inside its worker thread
            raise RuntimeError("simulated failure in a chunk worker")
        return real(frames, obs, config)

    monkeypatch.setattr(chunk_threads, "frame_columns", failing)
    out = tmp_path / "err.h5"
    with pytest.raises(RuntimeError, match="simulated"):
        pipeline.analyze_to_file(media / CLIP, out, batch_size=10, workers=2, restart_every=25)
    assert not out.exists() and partial_path(out).exists()
    with h5py.File(partial_path(out), "r") as f:  # the chunks before the failing one were written, in order
        assert int(f.attrs["n_done"]) == 50 and len(f["frames/time_s"]) == 50


def test_single_chunk_and_images_run_sequentially(media, tmp_path):
    out = pipeline.analyze_to_file(media / "images/pyfeat_happy_single_face.jpg", tmp_path / "i.h5", workers=2, restart_every=25)
    with SessionResults.open(out) as r:
        assert r.n_frames == 1 and r.usable[0]
    with pytest.raises(pipeline.PipelineError):
        pipeline.analyze_to_file(media / CLIP, tmp_path / "x.h5", workers=0, restart_every=25)
