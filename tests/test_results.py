"""The HDF5 results file: round trip, atomic rename, resume, and refusing bad files."""
from __future__ import annotations

import numpy as np
import pytest

from facelens.core.results import ResultsError, ResultsWriter, SessionResults, partial_path
from facelens.core.common.types import N_LANDMARKS, Quality

NAMES = ["brow_raise", "smile", "mouth_open"]
LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
META = {"video_path": "x.mp4", "video_sha256": "ab" * 32, "duration_s": 3.2, "native_fps": 30.0,
        "width": 640, "height": 360, "rotation_deg": 0, "params": {"fps": 10.0, "backend": "mediapipe"},
        "models": [{"id": "mesh", "version": "0.10.21"}]}


def _batch(start: int, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    idx = np.arange(start, start + n)
    quality = np.where(idx % 5 == 4, Quality.NO_FACE, Quality.OK).astype(np.uint8)
    lm = rng.normal(300, 50, (n, N_LANDMARKS, 3)).astype(np.float32)
    lm[quality == Quality.NO_FACE] = np.nan
    return {
        "time_s": idx / 10.0, "frame_index": idx * 3, "quality": quality,
        "landmarks": lm, "euler": rng.normal(0, 10, (n, 3)),
        "expressions": rng.random((n, len(NAMES))), "emotions": rng.dirichlet(np.ones(7), n),
        "valence": rng.uniform(-1, 1, n),
    }


def _concat(batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def test_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    out = tmp_path / "r.h5"
    batches = [_batch(0, 32, rng), _batch(32, 32, rng), _batch(64, 7, rng)]
    with ResultsWriter(out, META, expression_names=NAMES, emotion_labels=LABELS) as w:
        for b in batches:
            w.append(b)
            assert not out.exists(), "the final name must not appear before finish()"
        assert w.n_done == 71
        w.finish({"wall_s": 1.5})
    assert out.exists() and not partial_path(out).exists()
    ref = _concat(batches)
    with SessionResults.open(out) as r:
        assert r.n_frames == 71
        np.testing.assert_array_equal(r.time_s, ref["time_s"])
        np.testing.assert_array_equal(r.frame_index, ref["frame_index"])
        np.testing.assert_array_equal(r.quality, ref["quality"])
        np.testing.assert_allclose(r.euler, ref["euler"].astype(np.float32))
        np.testing.assert_allclose(r.emotions, ref["emotions"].astype(np.float32))
        np.testing.assert_array_equal(r.landmarks(5), ref["landmarks"][5])
        np.testing.assert_array_equal(r.landmarks(np.array([40, 3, 40])), ref["landmarks"][[40, 3, 40]])
        assert r.landmarks(slice(10, 20)).shape == (10, N_LANDMARKS, 3)
        assert np.isnan(r.arousal).all(), "columns not given are NaN"
        assert (r.n_faces == 0).all()
        assert r.expression_names == NAMES and r.emotion_labels == LABELS
        assert r.params == META["params"] and r.models == META["models"]
        assert r.video_sha256 == META["video_sha256"] and r.width == 640 and r.meta["wall_s"] == 1.5
        assert not r.is_demo
        assert r.usable.sum() == 71 - 14
        counts = r.discard_counts()
        assert counts["no face"] == 14 and sum(counts.values()) == 14
        assert r.frame_at_time(2.04) == 20 and r.frame_at_time(-5) == 0 and r.frame_at_time(99) == 70


def test_posefree_mesh_undoes_similarity(tmp_path):
    rng = np.random.default_rng(1)
    template = rng.normal(0, 1, (N_LANDMARKS, 3))
    a = np.deg2rad(25)
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    scale, trans = 80.0, np.array([320.0, 180.0, 5.0])
    image = scale * template @ rot.T + trans
    out = tmp_path / "p.h5"
    with ResultsWriter(out, META, expression_names=NAMES) as w:
        w.append({"time_s": [0.0], "frame_index": [0], "quality": [0], "landmarks": image[None],
                  "rotation": rot[None], "translation": trans[None], "scale": [scale]})
        w.finish()
    with SessionResults.open(out) as r:
        assert r.emotions is None and r.emotion_labels == []
        np.testing.assert_allclose(r.posefree_mesh(0), template, atol=2e-4)


def test_resume_continues_at_n_done(tmp_path):
    rng = np.random.default_rng(2)
    batches = [_batch(0, 32, rng), _batch(32, 32, rng), _batch(64, 20, rng)]
    out = tmp_path / "r.h5"
    w = ResultsWriter(out, META, expression_names=NAMES, emotion_labels=LABELS)
    w.append(batches[0])
    w.append(batches[1])
    w.close()  # interrupted
    assert partial_path(out).exists() and not out.exists()
    with pytest.raises(ResultsError, match="not finished"):
        SessionResults.open(out)
    with pytest.raises(ResultsError, match="incomplete"):
        SessionResults.open(partial_path(out))
    w = ResultsWriter(out, META, expression_names=NAMES, emotion_labels=LABELS, resume=True)
    assert w.n_done == 64
    w.append(batches[2])
    w.finish()
    with SessionResults.open(out) as r:
        np.testing.assert_array_equal(r.time_s, _concat(batches)["time_s"])


def test_resume_refuses_other_video(tmp_path):
    out = tmp_path / "r.h5"
    w = ResultsWriter(out, META, expression_names=NAMES)
    w.close()
    with pytest.raises(ResultsError, match="different video"):
        ResultsWriter(out, {**META, "video_sha256": "cd" * 32}, expression_names=NAMES, resume=True)
    with pytest.raises(ResultsError, match="nothing to resume"):
        ResultsWriter(tmp_path / "other.h5", META, expression_names=NAMES, resume=True)


def test_resume_refuses_a_partial_made_with_other_crop_preprocessing(tmp_path):
    out = tmp_path / "r.h5"
    ResultsWriter(out, META, expression_names=NAMES).close()  # an earlier version: no preprocessing recorded
    new = {**META, "appearance_preprocessing": "illumination-normalised-1"}
    with pytest.raises(ResultsError, match="earlier FaceLens version"):
        ResultsWriter(out, new, expression_names=NAMES, resume=True)
    out2 = tmp_path / "r2.h5"
    ResultsWriter(out2, new, expression_names=NAMES).close()
    w = ResultsWriter(out2, new, expression_names=NAMES, resume=True)  # the same preprocessing resumes
    w.close()


def test_resume_refuses_a_partial_gated_another_way(tmp_path):
    out = tmp_path / "r.h5"
    ResultsWriter(out, META, expression_names=NAMES).close()  # an earlier version: no blur measure recorded
    from facelens.core.face.tracking import gate_settings

    new = {**META, "params": {**META["params"], **gate_settings()}}
    with pytest.raises(ResultsError, match="other quality gates"):
        ResultsWriter(out, new, expression_names=NAMES, resume=True)
    out2 = tmp_path / "r2.h5"
    ResultsWriter(out2, new, expression_names=NAMES).close()
    lax = {**new, "params": {**new["params"], "blur_threshold": 0.5}}
    with pytest.raises(ResultsError, match="other quality gates"):
        ResultsWriter(out2, lax, expression_names=NAMES, resume=True)
    w = ResultsWriter(out2, {**new, "params": {**new["params"], "workers": 3}}, expression_names=NAMES,
                      resume=True)  # the same gates resume (other settings may differ)
    w.close()


def test_gate_settings_have_one_owner():
    from facelens.core.face.tracking import gate_settings, recorded_gates
    from facelens.core.results.writer import QUALITY_GATE_PARAMS

    assert set(gate_settings()) <= set(QUALITY_GATE_PARAMS)  # resume compares every recorded gate
    assert recorded_gates(gate_settings()) == gate_settings()
    earlier = recorded_gates({"fps": 10.0, "blur_threshold": 25.0, "min_confidence": 0.5})  # no measure recorded
    assert earlier["blur_measure"] == "laplacian-variance" and earlier != gate_settings()
    assert recorded_gates({**gate_settings(), "blur_threshold": 1.0}) != gate_settings()  # a threshold alone differs


def test_crash_mid_write_leaves_no_final_file(tmp_path):
    out = tmp_path / "r.h5"
    rng = np.random.default_rng(3)
    with pytest.raises(ValueError):
        with ResultsWriter(out, META, expression_names=NAMES, emotion_labels=LABELS) as w:
            w.append(_batch(0, 8, rng))
            bad = _batch(8, 8, rng)
            bad["euler"] = bad["euler"][:, :2]  # wrong shape: the writer refuses the batch
            w.append(bad)
    assert not out.exists()
    w = ResultsWriter(out, META, expression_names=NAMES, emotion_labels=LABELS, resume=True)
    assert w.n_done == 8  # the refused batch left nothing behind
    w.close()


def test_bad_files_raise_one_line_errors(tmp_path):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    empty = tmp_path / "empty.h5"
    empty.write_bytes(b"")
    for p, pattern in [(tmp_path / "missing.h5", "not found"), (text, "not a FaceLens"),
                       (empty, "not a FaceLens"), (tmp_path, "folder")]:
        with pytest.raises(ResultsError, match=pattern) as info:
            SessionResults.open(p)
        assert "\n" not in str(info.value)
    import h5py

    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = [1, 2]
    with pytest.raises(ResultsError, match="no schema_version"):
        SessionResults.open(other)
