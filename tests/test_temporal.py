"""The temporal VA regressor (LSTM + 4-layer MLP): learning on synthetic features, metrics, save/load,
and the train-va / eval-affect command path on a tiny generated image folder."""
from __future__ import annotations

import json

import numpy as np
import pytest

from facelens.cli import main
from facelens.core.affect.datasets import affect_metrics
from facelens.core.affect.temporal import TemporalConfig, TemporalRegressor, ccc


def _synthetic(n_seq: int, t: int, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """SIMULATED data: smooth latent valence/arousal drive K noisy 'expression coefficients' linearly."""
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(99).normal(size=(2, k))  # same mixing for train and test
    out = []
    for _ in range(n_seq):
        steps = rng.normal(0, 0.3, size=(t, 2))
        latent = np.tanh(np.cumsum(steps, axis=0) * 0.5)
        x = latent @ mix + rng.normal(0, 0.3, size=(t, k))
        labels = np.where(latent[:, 0] > 0, 1, 2)  # happy / sad by valence sign
        out.append((x, latent, labels))
    return out


def test_ccc_definition():
    x = np.linspace(-1, 1, 50)
    assert ccc(x, x) == pytest.approx(1.0)
    assert ccc(x, -x) == pytest.approx(-1.0)
    assert ccc(x, x + 0.5) < 0.9  # a bias lowers CCC but not correlation
    m = affect_metrics(np.c_[x, x], np.c_[x, x], np.eye(8)[np.zeros(50, int)], np.zeros(50, int))
    assert m["V-CCC"] == pytest.approx(1) and m["V-RMSE"] == 0 and m["E-ACC-8"] == 1 and m["E-ACC-7"] == 1


def test_regressor_learns_and_generalises(tmp_path):
    k = 12
    train, test = _synthetic(48, 50, k, seed=1), _synthetic(12, 50, k, seed=2)
    reg = TemporalRegressor(TemporalConfig(n_features=k))
    losses = reg.fit(train, epochs=25, seed=0, log=lambda s: None)
    assert losses[-1] < 0.5 * losses[0]
    pred = np.concatenate([reg.predict(x)[0] for x, _, _ in test])
    truth = np.concatenate([y for _, y, _ in test])
    assert ccc(pred[:, 0], truth[:, 0]) > 0.5 and ccc(pred[:, 1], truth[:, 1]) > 0.5
    # save -> load gives the same predictions; NaN input rows give NaN output rows
    path = reg.save(tmp_path / "m.pt", {"note": "simulated"})
    again = TemporalRegressor.load(path)
    x = test[0][0].copy()
    x[3] = np.nan
    a, b = reg.predict(x)[0], again.predict(x)[0]
    np.testing.assert_allclose(a, b, atol=1e-6, equal_nan=True)
    assert np.isnan(a[3]).all() and np.isfinite(a[4]).all()
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ValueError, match="not a FaceLens temporal VA model"):
        TemporalRegressor.load(tmp_path / "junk.pt")


@pytest.fixture
def tiny_image_dataset(tmp_path, media):
    """Six variants of the smiling still image (flips, scale, brightness), labelled happy."""
    import cv2

    img = cv2.imread(str(media / "images" / "pyfeat_happy_single_face.jpg"))
    variants = [img, cv2.flip(img, 1), cv2.resize(img, None, fx=0.7, fy=0.7),
                cv2.convertScaleAbs(img, alpha=0.8), cv2.convertScaleAbs(img, alpha=1.1, beta=10),
                cv2.flip(cv2.resize(img, None, fx=0.8, fy=0.8), 1)]
    folder = tmp_path / "ds"
    (folder / "img").mkdir(parents=True)
    rows = ["image,expression,valence,arousal"]
    for i, v in enumerate(variants):
        cv2.imwrite(str(folder / "img" / f"{i}.jpg"), v)
        rows.append(f"img/{i}.jpg,happy,{0.6 + 0.05 * i:.2f},{0.3 + 0.02 * i:.2f}")
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_cli_train_and_eval_on_image_folder(tiny_image_dataset, tmp_path, capsys):
    model = tmp_path / "va.pt"
    assert main(["train-va", str(tiny_image_dataset), "--out", str(model), "--epochs", "3", "--seq-len", "10"]) == 0
    assert model.exists() and "a usable face in 6" in capsys.readouterr().out
    metrics = tmp_path / "m.json"
    assert main(["eval-affect", str(tiny_image_dataset), "--model", str(model), "--json", str(metrics)]) == 0
    out = capsys.readouterr().out
    assert "V-CCC" in out and "E-ACC-8" in out
    assert json.loads(metrics.read_text())["n_scored"] == 6
    # the default estimator: the FER2013 model calls every variant happy
    assert main(["eval-affect", str(tiny_image_dataset), "--json", str(metrics)]) == 0
    m = json.loads(metrics.read_text())
    assert m["E-ACC-7"] == 1.0 and m["V-RMSE"] < 0.5


def test_cli_rejects_bad_dataset(tmp_path, capsys):
    assert main(["train-va", str(tmp_path), "--out", str(tmp_path / "x.pt")]) == 2
    err = capsys.readouterr().err
    assert "labels.csv" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.pt").exists()
