"""``facelens recon train`` / ``recon eval`` end to end on two real recordings, and the pipeline's
batched reconstructor on the exported weights (a few seconds of training, CPU)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from facelens.cli import main


@pytest.fixture(scope="module")
def run(tmp_path_factory, media):
    ds = tmp_path_factory.mktemp("asmv2l_ds")
    os.symlink(media / "images" / "pyfeat_happy_single_face.jpg", ds / "happy.jpg")
    os.symlink(media / "videos" / "pyfeat_single_face.mp4", ds / "single.mp4")
    out = tmp_path_factory.mktemp("asmv2l_run")
    rc = main(["recon", "train", str(ds), "--out", str(out), "--epochs", "2", "--batch-size", "2",
               "--max-per-video", "4", "--val-frac", "0.5", "--no-text-rec"])
    assert rc == 0
    return ds, out


def test_train_writes_checkpoint_log_weights_and_card(run):
    _, out = run
    for name in ("checkpoint.pt", "training_log.csv", "training_log.json", "training_log.png", "asmv2l.pt",
                 "MODEL_CARD.md", "model_card.json", "prepared.npz"):
        assert (out / name).is_file(), name
    log = json.loads((out / "training_log.json").read_text())
    assert [r["epoch"] for r in log] == [1, 2] and all(np.isfinite(r["total"]) for r in log)
    card = json.loads((out / "model_card.json").read_text())
    assert len(card["sha256"]) == 64 and "nme_mean_shape" in card["metrics_held_out"]
    assert (out / "asmv2l.pt").stat().st_size < 5_000_000


def test_train_again_resumes_and_stops(run, capsys):
    ds, out = run
    assert main(["recon", "train", str(ds), "--out", str(out), "--epochs", "2", "--no-text-rec"]) == 0
    assert "resuming" in capsys.readouterr().out


def test_eval_reports_metrics(run, tmp_path):
    ds, out = run
    js = tmp_path / "m.json"
    assert main(["recon", "eval", str(out / "checkpoint.pt"), str(ds), "--prepared", str(out / "prepared.npz"),
                 "--split", "val", "--json", str(js)]) == 0
    m = json.loads(js.read_text())
    for k in ("nme", "nme_mean_shape", "nme_model_mean", "coef_rmse_exp", "photometric"):
        assert np.isfinite(m[k]), k


def test_bad_inputs_exit_2(run, tmp_path, capsys):
    ds, _out = run
    assert main(["recon", "eval", str(tmp_path / "none.pt"), str(ds)]) == 2
    (tmp_path / "bad.pt").write_text("x")
    assert main(["recon", "eval", str(tmp_path / "bad.pt"), str(ds)]) == 2
    assert main(["recon", "train", str(tmp_path / "nodata"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["recon", "train", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("facelens: error:") == 4


def test_reconstructor_batches_frames(run, media):
    import cv2

    from facelens.core.face.asmv2l.inference import AsmV2LReconstructor, parse_reconstruction
    from facelens.core.face.geometry import posefree_fit
    from facelens.core.face.tracking import FaceTracker

    _, out = run
    rgb = cv2.imread(str(media / "images" / "pyfeat_happy_single_face.jpg"))[:, :, ::-1].copy()
    with FaceTracker(static=True) as t:
        lm = t.process(rgb).landmarks
    rec = AsmV2LReconstructor(out / "asmv2l.pt", device="cpu")
    frames = [rgb, rgb, rgb]
    lms = np.stack([lm, lm, np.full_like(lm, np.nan)])
    pf = np.stack([posefree_fit(x) for x in lms])
    res = rec.update(frames, lms, np.array([True, True, True]), posefree=pf)
    assert res.expression.shape == (3, rec.net.exp_sd.shape[0])
    assert np.isfinite(res.expression[:2]).all() and np.isnan(res.expression[2]).all()
    np.testing.assert_allclose(res.expression[0], res.expression[1], atol=1e-5)  # same crop, same answer
    assert np.isfinite(res.residual[:2]).all()
    assert parse_reconstruction("fit") == ("fit", None)
    assert parse_reconstruction("asmv2l:x.pt")[1].name == "x.pt"
    with pytest.raises(ValueError):
        parse_reconstruction("deca")


def test_analysis_stage_columns_and_resume(run, media, tmp_path):
    import cv2
    import h5py

    from facelens.core.analysis.asmv2l_stage import (
        PRIVATE,
        AsmV2LStage,
        block_network,
        block_outputs,
        checkpoint_of,
    )
    from facelens.core.face.geometry import head_pose_batch
    from facelens.core.face.tracking import FaceTracker

    _, out = run
    rgb = cv2.imread(str(media / "images" / "pyfeat_happy_single_face.jpg"))[:, :, ::-1].copy()
    with FaceTracker(static=True) as t:
        lm = t.process(rgb).landmarks
    lms = np.stack([lm, lm, np.full_like(lm, np.nan)]).astype(np.float32)
    pose = head_pose_batch(lms)
    cols = {"landmarks": lms, "rotation": pose["rotation"], "translation": pose["translation"],
            "scale": pose["scale"], "quality": np.array([0, 0, 2], np.uint8)}
    net = block_network(f"asmv2l:{out / 'asmv2l.pt'}", "cpu")  # the per-frame step's network, resolved once
    cols.update(block_outputs([rgb] * 3, cols, net))
    stage = AsmV2LStage(out / "asmv2l.pt", device="cpu")
    assert block_network(f"asmv2l:{out / 'asmv2l.pt'}", "cpu") is net is stage.rec  # one network for both halves
    c = stage.columns(cols)
    assert not set(PRIVATE) & set(cols)  # never reaches the writer
    k_exp, k_id = stage.coef_sizes
    assert c["coef_exp"].shape == (3, k_exp) and c["coef_id"].shape == (3, k_id)
    assert np.isfinite(c["coef_exp"][:2]).all() and np.isnan(c["coef_exp"][2]).all()
    np.testing.assert_allclose(c["coef_exp"][0], c["coef_exp"][1], atol=1e-5)  # same crop, same answer
    assert np.isfinite(c["fit_residual"][:2]).all()
    # resume: the identity mean continues from the stored coefficients
    h5 = tmp_path / "p.h5"
    with h5py.File(h5, "w") as f:
        f.create_group("frames").create_dataset("coef_id", data=c["coef_id"])
    again = AsmV2LStage(out / "asmv2l.pt", device="cpu")
    again.warm_up(h5, 3)
    np.testing.assert_allclose(again.identity, stage.identity, rtol=1e-5, atol=1e-6)
    assert stage.card()["sha256"] and checkpoint_of("fit") is None
    assert checkpoint_of(f"asmv2l:{out / 'asmv2l.pt'}") == out / "asmv2l.pt"
    assert checkpoint_of("asmv2l").name == "asmv2l_small.pt"  # the registry's shipped weights


def test_analyze_with_asmv2l_reconstruction(run, media, analysed, tmp_path):
    from facelens.core.results import SessionResults

    _, out = run
    res = tmp_path / "asm.h5"
    video = media / "videos" / "pyfeat_single_face.mp4"
    assert main(["analyze", str(video), "-o", str(res), "--reconstruction", f"asmv2l:{out / 'asmv2l.pt'}"]) == 0
    a, b = SessionResults.open(res), SessionResults.open(analysed("videos/pyfeat_single_face.mp4"))
    assert a.meta["reconstruction"].startswith("asmv2l") and b.meta.get("reconstruction", "fit") == "fit"
    assert a.models[-1]["id"].startswith("asmv2l") and len(a.models[-1]["sha256"]) == 64
    ok = np.isfinite(a.coef_exp).all(axis=1)
    assert ok.sum() >= 0.9 * len(ok) and np.isfinite(a.coef_id[ok]).all()
    # the network changes the coefficients only: tracking and the circumplex valence are the fit run's
    assert np.array_equal(a.landmarks(slice(None)), b.landmarks(slice(None)))
    assert not np.allclose(np.nan_to_num(a.coef_exp), np.nan_to_num(b.coef_exp))
    assert main(["analyze", str(video), "-o", str(tmp_path / "x.h5"), "--reconstruction", "deca"]) == 2
