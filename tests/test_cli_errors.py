"""Robustness and honesty of the command line.

Every bad input or unusable output gives one line on stderr and the agreed exit code (2 unusable
input or output location, 1 failure during the work, 3 refusal / no face), never a traceback and
never a half-written file. Commands run in-process through ``facelens.cli.main`` so that an
uncaught exception fails the test instead of hiding in a subprocess.
"""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from facelens.cli import COMMAND_MODULES, build_parser, main

UNWRITABLE = "/proc/facelens-test"  # a folder nobody (not even root) can create files in


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    """A small simulated cohort (real results files and segments; seconds to write)."""
    from facelens.core.diagnosis.simulate import simulate_cohort

    return simulate_cohort(tmp_path_factory.mktemp("sim"), 6, 6, seed=1)


@pytest.fixture(scope="module")
def model_dir(sim, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("model") / "m"
    assert main(["cohort", "train", str(sim), "--out", str(out), "--folds", "2"]) == 0
    return out


def _session(sim: Path) -> tuple[Path, Path]:
    return sim.parent / "sessions" / "sim0001.h5", sim.parent / "sessions" / "sim0001.segments.csv"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("facelens: error: "), err
    assert "Traceback" not in err and ".tmp" not in err
    return lines[0]


# -- the command set ---------------------------------------------------------------------------
def test_every_listed_command_module_registers():
    names = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    expected = {"analyze", "info", "export", "demo", "models", "train-va", "eval-affect", "dynamics", "cohort",
                "report", "batch", "export-mesh", "segments", "gui"}
    assert expected <= names
    assert {"exports", "cohort"} <= set(COMMAND_MODULES)


def test_oserror_last_resort_is_one_line(monkeypatch, capsys, sim):
    import facelens.cli.exports as ex

    def boom(args):
        raise PermissionError(13, "Permission denied", "/some/where.csv")

    monkeypatch.setattr(ex, "cmd_segments_export", boom)
    code, _, err = run(capsys, "segments", "export", _session(sim)[1], "-o", "x.csv")
    assert code == 2
    assert one_line_error(err) == "facelens: error: cannot use /some/where.csv: Permission denied"


# -- same file / unwritable outputs ------------------------------------------------------------
def test_segments_import_refuses_to_overwrite_its_source(capsys, tmp_path, sim):
    src = tmp_path / "s.csv"
    src.write_text("Time,Behavior,Status\n1.0,happy,START\n4.0,happy,STOP\n")
    before = src.read_bytes()
    code, _, err = run(capsys, "segments", "import", src, "-o", src)
    assert code == 2 and "input file itself" in one_line_error(err)
    assert src.read_bytes() == before


def test_segments_export_unwritable_is_exit_2(capsys, sim):
    code, _, err = run(capsys, "segments", "export", _session(sim)[1], "-o", f"{UNWRITABLE}/x.eaf")
    assert code == 2 and UNWRITABLE in one_line_error(err)


def test_cohort_simulate_bad_out(capsys, tmp_path):
    code, _, err = run(capsys, "cohort", "simulate", "--out", f"{UNWRITABLE}/x", "--n-bd", 2, "--n-mdd", 2)
    assert code == 2 and UNWRITABLE in one_line_error(err)
    f = tmp_path / "file"
    f.write_text("x")
    code, _, err = run(capsys, "cohort", "simulate", "--out", f, "--n-bd", 2, "--n-mdd", 2)
    assert code == 2 and "is a file" in one_line_error(err)


def test_cohort_train_checks_out_before_training(capsys, sim):
    code, out, err = run(capsys, "cohort", "train", sim, "--out", f"{UNWRITABLE}/m", "--folds", 2)
    assert code == 2 and one_line_error(err) and "subjects:" not in out


def test_train_va_and_eval_affect_check_outputs_first(capsys, tmp_path):
    # the dataset does not even exist: the output is checked before anything is read or trained
    code, out, err = run(capsys, "train-va", tmp_path / "nodata", "--out", f"{UNWRITABLE}/m.pt")
    assert code == 2 and UNWRITABLE in one_line_error(err) and out == ""
    code, out, err = run(capsys, "eval-affect", tmp_path / "nodata", "--json", f"{UNWRITABLE}/m.json")
    assert code == 2 and UNWRITABLE in one_line_error(err) and out == ""


def test_batch_rejects_options_before_printing(capsys, tmp_path):
    m = tmp_path / "manifest.csv"
    m.write_text("video\nx.mp4\n")
    code, _, err = run(capsys, "batch", m, "--out", tmp_path / "o", "--workers", 0)
    assert code == 2 and "--workers" in one_line_error(err)
    code, _, err = run(capsys, "batch", m, "--out", f"{UNWRITABLE}/o")
    assert code == 2 and one_line_error(err)
    assert not (tmp_path / "o").exists()


# -- inputs that are not what they claim -------------------------------------------------------
def test_predict_with_a_results_file_as_model(capsys, sim):
    h5, segs = _session(sim)
    code, _, err = run(capsys, "cohort", "predict", h5, h5, "--segments", segs)
    assert code == 2 and "not a FaceLens BD-vs-MDD model" in one_line_error(err)


def test_segments_beyond_the_recording(capsys, sim, tmp_path, model_dir):
    h5, _ = _session(sim)
    far = tmp_path / "far.csv"
    far.write_text("start_s,end_s,label\n1000,1010,happy\n")
    for argv in (["dynamics", h5, "--segments", far],
                 ["cohort", "predict", model_dir, h5, "--segments", far],
                 ["report", h5, "--segments", far, "--out", tmp_path / "r.pdf", "--no-model"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "beyond the end of the recording" in one_line_error(err), argv
    assert not (tmp_path / "r.pdf").exists()


def test_report_date_and_model_are_validated(capsys, sim, tmp_path):
    h5, segs = _session(sim)
    code, _, err = run(capsys, "report", h5, "--segments", segs, "--out", tmp_path / "r.pdf", "--date", "notadate")
    assert code == 2 and "--date" in one_line_error(err)
    code, _, err = run(capsys, "report", h5, "--segments", segs, "--out", tmp_path / "r.pdf", "--date", "2026-02-30")
    assert code == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    corrupt = tmp_path / "corrupt.json"
    corrupt.write_text("{not json")
    for bad in (empty, corrupt):
        code, _, err = run(capsys, "report", h5, "--segments", segs, "--out", tmp_path / "r.pdf", "--model", bad)
        assert code == 2 and "model" in one_line_error(err)
    assert not (tmp_path / "r.pdf").exists()


def test_dynamics_pac_threshold(capsys, sim):
    h5, segs = _session(sim)
    code, out, _ = run(capsys, "dynamics", h5, "--segments", segs, "--json", "--pac-threshold", 0)
    assert code == 0 and json.loads(out)["params"]["pac_threshold"] == 0.0
    for bad in ("-0.1", "nan", "inf"):
        code, _, err = run(capsys, "dynamics", h5, "--segments", segs, "--pac-threshold", bad)
        assert code == 2 and "--pac-threshold" in one_line_error(err)


def test_dynamics_table_keeps_whole_segment_names(capsys, sim, tmp_path):
    h5, _ = _session(sim)
    segs = tmp_path / "s.csv"
    segs.write_text("start_s,end_s,label\n12.5,20,neutral\n21.25,30,happy\n")
    code, out, _ = run(capsys, "dynamics", h5, "--segments", segs)
    assert code == 0
    assert "\nneutral@12.5 " in out and "\nhappy@21.25 " in out


def test_models_add_va_temporal_refuses_a_text_file(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("FACELENS_MODELS_DIR", str(tmp_path / "user"))
    f = tmp_path / "notamodel.pt"
    f.write_text("hello")
    code, _, err = run(capsys, "models", "add", "va-temporal", f)
    assert code == 2 and one_line_error(err)
    assert not (tmp_path / "user").exists() or not any((tmp_path / "user").iterdir())


# -- export-mesh positions ---------------------------------------------------------------------
@pytest.mark.parametrize("pos", [["--frame", "-1"], ["--frame", "100000"], ["--time", "1000"],
                                 ["--time", "nan"], ["--time", "-3"]])
def test_export_mesh_refuses_positions_outside(capsys, sim, tmp_path, pos):
    h5, _ = _session(sim)
    code, _, err = run(capsys, "export-mesh", h5, "-o", tmp_path / "m.obj", *pos)
    assert code == 2 and one_line_error(err)
    assert not (tmp_path / "m.obj").exists()


def test_export_mesh_range_past_the_end_leaves_no_folder(capsys, sim, tmp_path):
    from facelens.core.results import SessionResults

    h5, _ = _session(sim)
    with SessionResults.open(h5) as r:
        n = r.n_frames
    code, _, err = run(capsys, "export-mesh", h5, "-o", tmp_path / "meshes", "--range", f"{n + 5}:{n + 10}")
    assert code == 2 and one_line_error(err)
    assert not (tmp_path / "meshes").exists()


# -- honesty of cohort evaluate ----------------------------------------------------------------
def test_evaluate_on_training_data_warns(capsys, sim, model_dir):
    code, out, err = run(capsys, "cohort", "evaluate", model_dir, sim, "--json")
    assert code == 0 and "WARNING" in err and "training cohort" in err
    data = json.loads(out)
    assert data["simulated"] is True
    assert data["training_overlap"]["same_manifest"] and data["training_overlap"]["n_overlap"] == 12
    assert data["warning"]
    code, out, err = run(capsys, "cohort", "evaluate", model_dir, sim)
    assert "external cohort" not in out and "evaluation cohort" in out and "WARNING" in out


def test_evaluate_on_new_subjects_is_external(capsys, model_dir, tmp_path):
    from facelens.core.diagnosis.simulate import simulate_cohort

    other = simulate_cohort(tmp_path / "other", 4, 4, seed=7)
    # same neutral ids (sim0001...) as the training cohort: rename them so the subjects really differ
    lines = other.read_text().splitlines()
    other.write_text("\n".join([lines[0]] + ["ext" + ln[3:] for ln in lines[1:]]) + "\n")
    code, out, err = run(capsys, "cohort", "evaluate", model_dir, other)
    assert code == 0 and "WARNING" not in err and "external cohort" in out


# -- atomic writes -----------------------------------------------------------------------------
@pytest.mark.parametrize("umask,shared_mode", [(0o000, 0o644), (0o022, 0o644), (0o027, 0o640)])
def test_atomic_write_is_owner_only_whatever_the_umask(tmp_path, umask, shared_mode):
    from facelens.core.common.atomic import atomic_write_bytes, atomic_write_text

    old = os.umask(umask)
    try:
        p = atomic_write_text(tmp_path / "new" / "a.txt", "x", make_parents=True)
        w = atomic_write_bytes(tmp_path / "w.bin", b"weights", shared=True)  # model cache only
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600 and stat.S_IMODE(p.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(w.stat().st_mode) == shared_mode
    assert sorted(q.name for q in tmp_path.iterdir()) == ["new", "w.bin"]


def test_atomic_path_failure_keeps_old_file_and_no_temp(tmp_path):
    from facelens.core.common.atomic import atomic_path

    p = tmp_path / "a.txt"
    p.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(p) as tmp:
        tmp.write_text("half")
        raise RuntimeError("stop")
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["a.txt"]


def test_atomic_error_names_the_final_path():
    from facelens.core.common.atomic import atomic_write_bytes

    with pytest.raises(OSError) as ei:
        atomic_write_bytes(f"{UNWRITABLE}/x.bin", b"1")
    assert ei.value.filename == f"{UNWRITABLE}/x.bin"


# -- eval-affect datasets ------------------------------------------------------------------------
@pytest.mark.parametrize("row,msg", [("a.png,happy,5,0.1", "[-1, 1]"), ("a.png,9,0.1,0.1", "0-7"),
                                     ("missing.png,happy,0.1,0.1", "do not exist")])
def test_eval_affect_refuses_bad_labels_and_missing_images(capsys, tmp_path, row, msg):
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "a.png").write_bytes(b"\x89PNG not really")  # exists; the checks run before any decoding
    (ds / "labels.csv").write_text("image,expression,valence,arousal\n" + row + "\n")
    code, out, err = run(capsys, "eval-affect", ds)
    assert code == 2 and msg in one_line_error(err) and out == ""
