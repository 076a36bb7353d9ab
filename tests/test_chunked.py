"""Chunk-parallel decoding and tracking (``facelens.core.analysis.chunks``, ``torchface.chunk_run``).

Decoding must reproduce the sequential decoder exactly (same frames, pixels, ordinals, times);
tracking chunks side by side must give what frame-by-frame tracking gives. Small sizes: low fps
and restart intervals of a few frames, so that a 2.4-s clip has several chunks.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from facelens.core.analysis import chunks as chunked
from facelens.core.analysis.chunks import ChunkFeeder, ChunkMismatch, iter_chunk, plan_samples
from facelens.core.media.video import open_media

CLIPS = ["videos/pyfeat_single_face.mp4", "videos/pyfeat_noface_face.mov"]  # H.264 MP4, HEVC MOV


@pytest.mark.parametrize("rel", CLIPS)
@pytest.mark.parametrize("fps,length", [(10.0, 7), (3.0, 2)])
def test_chunk_decoders_reproduce_the_sequential_decoder(media, rel, fps, length):
    with open_media(media / rel) as s:
        seq = list(s.iter_sampled(fps))
        plan = plan_samples(s, fps)
        assert plan is not None and plan.n_sampled == len(seq)
        chunks = plan.chunks(length)
        assert len(chunks) >= 3 and chunks[-1][1] == len(seq)
        got = {}
        with ChunkFeeder(s, plan, chunks, threads=2, prefetch=2) as feeder:
            for step in feeder:
                assert [c for c, _ in step] == sorted({c for c, _ in step})  # one frame per live chunk
                for c, f in step:
                    a, b = chunks[c]
                    assert a <= f.index < b
                    got[f.index] = f
    assert sorted(got) == list(range(len(seq)))
    for f in seq:
        g = got[f.index]
        assert (g.frame_index, g.time_s) == (f.frame_index, f.time_s)
        assert np.array_equal(g.rgb, f.rgb), f.index


def test_a_wrong_plan_is_detected_not_decoded_silently(media):
    with open_media(media / CLIPS[0]) as s:
        plan = plan_samples(s, 10.0)
        assert plan is not None
        bad = chunked.SamplePlan(plan.pts.copy(), plan.sampled, plan.start, plan.time_base)
        bad.pts[plan.sampled[9] + 1] += 1  # inside the chunk's span: a frame the decoder will not produce
        with pytest.raises(ChunkMismatch):
            list(iter_chunk(s, bad, 7, 14))
        assert len(list(iter_chunk(s, plan, 7, 14))) == 7


def test_no_plan_for_images(media):
    with open_media(media / "images/pyfeat_happy_single_face.jpg") as s:
        assert plan_samples(s, 10.0) is None


# --- tracking ------------------------------------------------------------------------------------
torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def frames(media):
    with open_media(media / CLIPS[0]) as s:
        return [f.rgb for f in itertools.islice(s.iter_sampled(5.0), 6)]


def test_process_streams_equals_process_stream_by_stream(frames):
    from facelens.core.face.torchface.tracker import TorchFaceTracker

    with TorchFaceTracker(device="cpu") as tr:
        a, b = frames[:3], [np.zeros_like(frames[0]), *frames[3:5]]  # stream b starts without a face
        ref = []
        for stream in (a, b):
            tr.reset()
            ref.append([tr.process(f) for f in stream])
        states = [None, None]
        got: list[list] = [[], []]
        for t in range(3):
            obs, states = tr.process_streams([a[t], b[t]], states)
            got[0].append(obs[0])
            got[1].append(obs[1])
        assert states[0] is not None and states[1] is not None
        for r, g in zip(ref, got):
            assert [o.quality for o in r] == [o.quality for o in g]
            for x, y in zip(r, g):
                if x.landmarks is None:
                    assert y.landmarks is None
                    continue
                # same crops and rules; only float summation order of batched kernels differs
                assert np.abs(x.landmarks - y.landmarks).max() < 0.05
                assert abs(x.confidence - y.confidence) < 1e-3
        with pytest.raises(ValueError):
            tr.process_streams([a[0]], [None, None])


def _arrays(path):
    from facelens.core.results import SessionResults

    with SessionResults.open(path) as r:
        cols = {k: getattr(r, k) for k in ("time_s", "frame_index", "quality", "n_faces", "confidence",
                                             "bbox", "expressions", "emotions", "valence", "arousal")}
        cols["landmarks"] = r.landmarks(slice(None))
        return cols, r.params


def _assert_same(a, b, lm_tol=0.05):
    for k in ("time_s", "frame_index", "quality", "n_faces"):
        assert np.array_equal(a[k], b[k]), k
    assert np.array_equal(np.isnan(a["landmarks"]), np.isnan(b["landmarks"]))
    assert np.nanmax(np.abs(a["landmarks"] - b["landmarks"])) < lm_tol
    for k in ("valence", "arousal"):
        assert np.array_equal(np.isnan(a[k]), np.isnan(b[k])), k
        assert np.nanmax(np.abs(a[k] - b[k])) < 1e-3, k


@pytest.fixture(scope="module")
def sequential(media, tmp_path_factory):
    """The reference: torch backend, sequential decoder, frame by frame (restart every 3 frames)."""
    from facelens.core.analysis import pipeline

    out = tmp_path_factory.mktemp("seq") / "seq.h5"
    pipeline.analyze_to_file(media / CLIPS[0], out, fps=5.0, backend="torch", device="cpu",
                             batch_size=2, parallel_chunks=0, restart_every=3)
    return _arrays(out)


def test_chunk_parallel_pipeline_equals_sequential(media, tmp_path, monkeypatch, sequential):
    from facelens.core.analysis import pipeline
    out = pipeline.analyze_to_file(media / CLIPS[0], tmp_path / "par.h5", fps=5.0, backend="torch",
                                   device="cpu", batch_size=2, parallel_chunks=3, decode_threads=2, restart_every=3)
    got, params = _arrays(out)
    ref, _ = sequential
    assert len(got["time_s"]) == 12 and params["backend"] == "torch"  # 4 chunks: groups of 3 and 1
    _assert_same(ref, got)


def test_cancel_and_resume_in_chunk_parallel_mode(media, tmp_path, monkeypatch, sequential):
    from facelens.core.analysis import pipeline
    from facelens.core.results import partial_path
    out = tmp_path / "cut.h5"
    kw = {"fps": 5.0, "backend": "torch", "device": "cpu", "batch_size": 2, "parallel_chunks": 2}
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] == 3  # after blocks of 2, 1, 2 reported (the writer may be a block ahead)

    with pytest.raises(pipeline.AnalysisCancelled) as exc:
        for _ in pipeline.run_analysis(media / CLIPS[0], out, cancel=cancel, **kw, restart_every=3):
            pass
    assert 5 <= exc.value.done < 12
    assert partial_path(out).exists() and not out.exists()
    pipeline.analyze_to_file(media / CLIPS[0], out, resume=True, **kw, restart_every=3)
    _assert_same(sequential[0], _arrays(out)[0])


def test_seek_mismatch_falls_back_to_sequential_decoding(media, tmp_path, monkeypatch, sequential):
    from facelens.core.analysis import pipeline
    real = chunked.iter_chunk

    def flaky(session, plan, first, stop, *args):
        if first >= 6:
            raise ChunkMismatch("simulated")
        yield from real(session, plan, first, stop, *args)

    monkeypatch.setattr(chunked, "iter_chunk", flaky)
    out = pipeline.analyze_to_file(media / CLIPS[0], tmp_path / "fb.h5", fps=5.0, backend="torch",
                                   device="cpu", batch_size=2, parallel_chunks=2, restart_every=3)
    _assert_same(sequential[0], _arrays(out)[0])
