"""A damaged, half-written or unfinished results file is detected and never shown as a result:
per-chunk Fletcher-32 checksums, the completion marker and the ``.partial`` name; the CLI exits 2
with one line and the GUI says to analyse the session again (and keeps working)."""
from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from facelens.cli import main
from facelens.core.common.types import N_LANDMARKS, Quality
from facelens.core.results import ResultsError, ResultsWriter, SessionResults, partial_path

NAMES = ["smile", "mouth_open"]
META = {"video_path": "x.mp4", "video_sha256": "cd" * 32, "duration_s": 40.0, "native_fps": 30.0,
        "width": 640, "height": 360, "params": {"fps": 10.0}, "models": []}


def write_results(path: Path, n: int = 400, finish: bool = True) -> Path:
    """A results file of ``n`` frames with random (finite) values; finished unless ``finish=False``."""
    rng = np.random.default_rng(3)
    w = ResultsWriter(path, META, expression_names=NAMES)
    w.append({"time_s": np.arange(n) / 10.0, "frame_index": np.arange(n) * 3,
              "quality": np.full(n, Quality.OK, np.uint8),
              "landmarks": rng.normal(300, 40, (n, N_LANDMARKS, 3)).astype(np.float32),
              "euler": rng.normal(0, 5, (n, 3)), "expressions": rng.random((n, 2)),
              "valence": rng.uniform(-1, 1, n), "arousal": rng.uniform(-1, 1, n)})
    if finish:
        return w.finish()
    w.close()
    return partial_path(path)


def _flip(path: Path, dataset: str, chunk: int = 0) -> None:
    """Flip bytes in the middle of one stored chunk of ``frames/dataset`` (file size unchanged)."""
    with h5py.File(path, "r") as f:
        info = f["frames"][dataset].id.get_chunk_info(chunk)
    with path.open("r+b") as fh:
        fh.seek(info.byte_offset + info.size // 2)
        b = fh.read(4)
        fh.seek(info.byte_offset + info.size // 2)
        fh.write(bytes(x ^ 0x5A for x in b))


@pytest.mark.parametrize("dataset,chunk", [("valence", 0), ("euler", 0), ("landmarks", 7)])
def test_flipped_bytes_in_a_chunk_are_caught(tmp_path, dataset, chunk):
    p = write_results(tmp_path / "r.h5")
    with SessionResults.open(p) as r:  # intact: opens, checksums pass
        assert r.n_frames == 400
    _flip(p, dataset, chunk)
    with pytest.raises(ResultsError) as e:
        SessionResults.open(p)
    msg = str(e.value)
    assert "\n" not in msg and "damaged" in msg and "analyse the session again" in msg


def test_truncated_copy_and_unfinished_files_are_refused(tmp_path):
    p = write_results(tmp_path / "r.h5")
    half = tmp_path / "half.h5"
    half.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    partial = write_results(tmp_path / "u.h5", finish=False)
    marker = tmp_path / "m.h5"  # a file renamed by hand from a .partial: its complete flag is False
    marker.write_bytes(partial.read_bytes())
    for bad, words in ((half, "not a FaceLens results file"), (tmp_path / "u.h5", "not finished"),
                       (marker, "incomplete")):
        with pytest.raises(ResultsError, match=words):
            SessionResults.open(bad)


def test_cli_refuses_a_damaged_file_in_one_line(tmp_path, capsys):
    p = write_results(tmp_path / "r.h5")
    _flip(p, "arousal")
    for argv in (["info", str(p)], ["export", str(p), "--csv", str(tmp_path / "o.csv")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "damaged" in err[0] and "Traceback" not in err[0]
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.gui
def test_gui_offers_reanalysis_of_a_damaged_file(gui_window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from facelens.core.workspace import RunStatus, SessionStatus

    warned: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: warned.append(a[2])))
    monkeypatch.setattr(QMessageBox, "question", staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes))
    assert gui_window.open_workspace(tmp_path / "ws")
    ws = gui_window.workspace
    video = tmp_path / "v.mp4"
    video.write_bytes(b"\0" * 256)
    sid = ws.import_session(video, "P001").id
    out = write_results(ws.results_path_for(sid))
    ws.record_run(sid, out, {}, [], status=RunStatus.COMPLETE)
    ws.set_session_status(sid, SessionStatus.ANALYSED)
    _flip(out, "landmarks", 3)
    assert gui_window.open_session(sid) is False
    assert len(warned) == 1 and "damaged" in warned[0] and "analyse the session again" in warned[0]
    assert gui_window.review.data is None or gui_window.review.data.results is None
    # the app keeps working: another session opens, the workspace is intact
    sid2 = ws.import_session(video, "P002").id
    gui_window.open_session(sid2)
    assert gui_window.session_id == sid2 and ws.verify_audit().ok
