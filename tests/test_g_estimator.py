"""G over the morphable coefficients: training, the numpy runner, the schema-2 columns, the pipeline option."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

from facelens.core.affect.g_runtime import GModel, GRunner, export_g, load_default_g
from facelens.core.training.g_train import GTrainConfig, predict_stills, train_g


def _toy(n: int = 140, k: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 7, n)
    centres = rng.normal(size=(7, k)) * 2
    x = centres[y] + rng.normal(scale=0.3, size=(n, k))
    va = np.tanh(x[:, :2] / 2)
    return x, va, y


def test_g_trains_a_few_steps_and_the_numpy_runner_matches_torch(tmp_path):
    x, va, y = _toy()
    vids = [np.cumsum(np.random.default_rng(1).normal(scale=0.1, size=(60, 6)), axis=0)]
    reg = train_g(x, va, y, [f"c{i}" for i in range(6)], videos=vids, cfg=GTrainConfig(epochs=40, max_len=8, members=1),
                  log=lambda s: None)
    pv, pp = predict_stills(reg, x)
    assert np.mean(pp.argmax(1) == y) > 0.6  # separable toy classes: training did something
    assert np.corrcoef(pv[:, 0], va[:, 0])[0, 1] > 0.6
    g = GModel.load(export_g(reg, {"inputs": "coef"}).save(tmp_path / "g.npz"))
    va1, p1 = GRunner(g).step(x[:5], np.ones(5, bool))  # one runner: a 5-frame sequence
    import torch

    with torch.inference_mode():
        tv, tl = reg.net(torch.from_numpy(reg.normalise(x[:5]))[None])
    np.testing.assert_allclose(va1, tv[0].numpy(), atol=1e-5)
    np.testing.assert_allclose(p1, torch.softmax(tl[0], -1).numpy(), atol=1e-5)


def test_an_ensemble_averages_its_members_and_single_network_files_still_load(tmp_path):
    x, va, y = _toy()
    regs = train_g(x, va, y, [f"c{i}" for i in range(6)], cfg=GTrainConfig(epochs=3, max_len=8, members=3),
                   log=lambda s: None)
    assert isinstance(regs, list) and len(regs) == 3
    g = GModel.load(export_g(regs, {"inputs": "coef"}).save(tmp_path / "e.npz"))
    assert len(g.members) == 3 and g.n_inputs == 6
    va_e, p_e = GRunner(g).step(x[:4], np.ones(4, bool))
    singles = [GRunner(GModel.load(export_g(r, {}).save(tmp_path / f"s{j}.npz"))).step(x[:4], np.ones(4, bool))
               for j, r in enumerate(regs)]
    np.testing.assert_allclose(va_e, np.mean([s[0] for s in singles], axis=0), atol=1e-12)
    np.testing.assert_allclose(p_e, np.mean([s[1] for s in singles], axis=0), atol=1e-12)
    pv, pp = predict_stills(regs, x[:4])  # training-side prediction averages the same way (one-frame sessions)
    np.testing.assert_allclose(pv[0], va_e[0], atol=1e-5)
    np.testing.assert_allclose(pp[0], p_e[0], atol=1e-5)
    assert not np.allclose(singles[0][0], singles[1][0])  # the members differ (different seeds)
    assert len(GModel.load(tmp_path / "s0.npz").members) == 1  # a one-network file is format 1


def test_runner_is_the_same_for_any_batching_and_skips_unusable_frames():
    g = load_default_g()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(23, g.n_inputs)) * g.std + g.mean
    usable = rng.random(23) > 0.3
    whole = GRunner(g).step(x, usable)
    r = GRunner(g)
    parts = [r.step(x[i:i + 4], usable[i:i + 4]) for i in range(0, 23, 4)]
    np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole[0])
    assert np.isnan(whole[0][~usable]).all() and np.isfinite(whole[0][usable]).all()
    np.testing.assert_allclose(np.nansum(whole[1], axis=1)[usable], 1.0, atol=1e-9)


def test_schema_2_columns_and_schema_1_files_still_open(tmp_path):
    from facelens.core.results import SCHEMA_VERSION, ResultsWriter, SessionResults

    assert SCHEMA_VERSION == 2
    n = 3
    cols = {"time_s": np.arange(n) / 10, "frame_index": np.arange(n), "quality": np.zeros(n, np.uint8),
            "coef_exp": np.ones((n, 4)), "coef_id": np.zeros((n, 2)), "fit_residual": np.full(n, 0.01)}
    w = ResultsWriter(tmp_path / "a.h5", {}, expression_names=["e"], emotion_labels=["x", "y"], coef_sizes=(4, 2))
    w.append(cols)
    w.finish()
    with SessionResults.open(tmp_path / "a.h5") as r:
        assert r.coef_exp.shape == (n, 4) and r.fit_residual[0] == np.float32(0.01) and r.emotions_appearance is None
    # an old file: schema 1, no morphable columns
    w = ResultsWriter(tmp_path / "old.h5", {}, expression_names=["e"])
    w.append({k: cols[k] for k in ("time_s", "frame_index", "quality")})
    w.finish()
    with h5py.File(tmp_path / "old.h5", "r+") as f:
        f.attrs["schema_version"] = 1
    with SessionResults.open(tmp_path / "old.h5") as r:
        assert r.coef_exp is None and r.n_frames == n
    with h5py.File(tmp_path / "old.h5", "r+") as f:
        f.attrs["schema_version"] = 9
    from facelens.core.results import ResultsError

    with pytest.raises(ResultsError, match="schema 9"):
        SessionResults.open(tmp_path / "old.h5")


def test_files_of_the_first_morphable_model_open_and_g_refuses_their_coefficients(tmp_path):
    """A results file written with the first model (21 expression, 17 identity coefficients) still
    opens with the current one; the shipped G, trained on another width, refuses it in one line."""
    from facelens.core.affect.g_runtime import GModelError
    from facelens.core.affect.g_stage import GEstimator
    from facelens.core.face.morphable import load_default
    from facelens.core.results import ResultsWriter, SessionResults

    n = 4
    cols = {"time_s": np.arange(n) / 10, "frame_index": np.arange(n), "quality": np.zeros(n, np.uint8),
            "coef_exp": np.ones((n, 21)), "coef_id": np.zeros((n, 17)), "fit_residual": np.full(n, 0.01)}
    w = ResultsWriter(tmp_path / "v1.h5", {}, expression_names=["e"], emotion_labels=["x"], coef_sizes=(21, 17))
    w.append(cols)
    w.finish()
    assert load_default().n_expression != 21
    with SessionResults.open(tmp_path / "v1.h5") as r:
        assert r.coef_exp.shape == (n, 21) and r.coef_id.shape == (n, 17)
        coef = np.asarray(r.coef_exp)
    est = GEstimator.default(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    with pytest.raises(GModelError, match="expects .* inputs per frame, got 28"):
        est.replay(coef, np.full((n, 7), 1 / 7), np.ones(n, bool), np.arange(n) / 10)


@pytest.mark.slow
def test_analyze_with_g_records_the_estimator_and_the_fit(tmp_path, media):
    from facelens.core.analysis.pipeline import analyze_to_file
    from facelens.core.analysis.recon_stage import ReconStage
    from facelens.core.results import SessionResults

    out = analyze_to_file(media / "images" / "pyfeat_happy_single_face.jpg", tmp_path / "still.h5", va="g")
    with SessionResults.open(out) as r:
        assert r.meta["va_estimator"] == "g" and r.usable[0]
        assert r.emotion_labels[int(np.argmax(r.emotions[0]))] == "happy"
        assert r.valence[0] > 0.2
        again = ReconStage().columns({"landmarks": r.landmarks(slice(None)), "rotation": r.rotation,
                                      "translation": r.translation, "scale": r.scale, "quality": r.quality})
        np.testing.assert_array_equal(again["coef_exp"], r.coef_exp)  # recomputed from the file: same bits
        assert r.fit_residual[0] < 0.02


@pytest.mark.slow
def test_g_analysis_resumes_to_the_same_bits(media, tmp_path):
    from facelens.core.analysis.contract import AnalysisCancelled
    from facelens.core.analysis.pipeline import analyze_to_file, run_analysis
    from facelens.core.results import SessionResults, partial_path

    video = media / "videos/liveportrait_d3.mp4"
    whole = analyze_to_file(video, tmp_path / "whole.h5", batch_size=16, restart_every=32, va="g")
    out = tmp_path / "cut.h5"
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return calls["n"] == 3  # 16 frames past the restart point at 32

    with pytest.raises(AnalysisCancelled):
        for _ in run_analysis(video, out, batch_size=16, cancel=cancel, restart_every=32, va="g"):
            pass
    assert partial_path(out).exists()
    analyze_to_file(video, out, batch_size=16, resume=True, restart_every=32, va="g")
    with SessionResults.open(whole) as a, SessionResults.open(out) as b:
        for name in ("coef_exp", "coef_id", "fit_residual", "valence", "arousal", "emotions", "emotions_appearance"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        assert np.isfinite(a.valence).sum() > 100


@pytest.mark.slow
def test_train_and_eval_commands_on_analysed_stills(tmp_path, media, capsys):
    import cv2

    from facelens.cli import main
    from facelens.core.analysis.pipeline import analyze_to_file

    img = cv2.imread(str(media / "images" / "pyfeat_happy_single_face.jpg"))
    ds = tmp_path / "ds"
    (ds / "img").mkdir(parents=True)
    rows = ["image,expression,valence,arousal"]
    for i, v in enumerate([img, cv2.flip(img, 1), cv2.resize(img, None, fx=0.7, fy=0.7), cv2.convertScaleAbs(img, alpha=0.8)]):
        cv2.imwrite(str(ds / "img" / f"{i}.jpg"), v)
        rows.append(f"img/{i}.jpg,{'happy' if i % 2 else 'neutral'},{0.1 * i:.1f},{0.05 * i:.2f}")
    (ds / "labels.csv").write_text("\n".join(rows) + "\n")
    assert main(["recon", "manifest", str(ds), "-o", str(tmp_path / "m.csv")]) == 0
    ids = [line.split(",")[1] for line in (tmp_path / "m.csv").read_text().splitlines()[1:]]
    assert ids == ["img__0", "img__1", "img__2", "img__3"]
    for i, sid in enumerate(ids):
        analyze_to_file(ds / "img" / f"{i}.jpg", tmp_path / "res" / "sessions" / f"{sid}.h5")
    g = tmp_path / "g.npz"
    assert main(["train-va", str(ds), "--results", str(tmp_path / "res"), "--epochs", "2", "--out", str(g)]) == 0
    assert GModel.load(g).n_inputs == load_default_g().n_inputs
    capsys.readouterr()
    for model in ("default", str(g)):
        assert main(["eval-affect", str(ds), "--results", str(tmp_path / "res"), "--model", model]) == 0
        assert "images scored: 4/4" in capsys.readouterr().out
    assert main(["eval-affect", str(ds), "--results", str(tmp_path / "res"), "--cv", "2", "--epochs", "1"]) == 0
    assert "2-fold cross-validation" in capsys.readouterr().out
    assert main(["eval-affect", str(ds), "--results", str(tmp_path / "nothing"), "--model", "g"]) == 2
    # an analysis whose appearance posterior was made with other crops (an earlier version's) is refused
    import h5py

    with h5py.File(tmp_path / "res" / "sessions" / "img__2.h5", "r+") as h:
        h.attrs["appearance_preprocessing"] = "subpixel-crop+illumination-1+mirror-average"
    capsys.readouterr()
    assert main(["train-va", str(ds), "--results", str(tmp_path / "res"), "--epochs", "1",
                 "--out", str(tmp_path / "g2.npz")]) == 2
    err = capsys.readouterr().err
    assert "img__2.h5" in err and "analyse these files again" in err and not (tmp_path / "g2.npz").exists()


def test_an_analysis_whose_coefficients_g_was_not_trained_on_is_refused_before_it_starts(media, tmp_path):
    from facelens.core.affect.g_runtime import GModelError
    from facelens.core.affect.g_stage import GEstimator
    from facelens.core.analysis.pipeline import PipelineError, run_analysis
    from facelens.core.face.morphable.model import load_default

    g = GEstimator.default(["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"])
    n_exp = load_default().n_expression  # the shipped fit's width: accepted
    g.check_coefficients(n_exp)
    with pytest.raises(GModelError, match="trained on"):
        g.check_coefficients(n_exp + 1)
    out = tmp_path / "r.h5"
    with pytest.raises(PipelineError, match="expression coefficients"):  # AsmV2L gives another width
        next(iter(run_analysis(media / "videos" / "pyfeat_single_face.mp4", out, va="g", reconstruction="asmv2l")))
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing written
