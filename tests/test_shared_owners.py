"""The one owners of the device rule, the per-frame tracking loop, the AsmV2L block network and the
resume reader (``common.devices``, ``analysis.trackers.track_frames``, ``asmv2l_stage.block_network``,
``results.reader.stored_frames``)."""
from __future__ import annotations

import subprocess
import sys
from typing import ClassVar

import h5py
import numpy as np
import pytest

from facelens.core.analysis.contract import PipelineError
from facelens.core.analysis.trackers import resolve_device as analysis_device
from facelens.core.analysis.trackers import track_frames
from facelens.core.common import devices
from facelens.core.common.types import FaceObservation, Quality, SampledFrame
from facelens.core.results import ResultsError
from facelens.core.results.reader import stored_affect_inputs, stored_frames


def test_auto_without_an_nvidia_device_is_cpu_without_torch():
    code = ("import sys; from facelens.core.common import devices; devices.nvidia_device_present = lambda: False;"
            "print(devices.resolve_device('auto'), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["cpu", "False"]


def test_device_errors_are_one_line_and_typed_per_caller():
    with pytest.raises(devices.DeviceError, match=r"unknown device 'mps' \(use auto, cpu or cuda\[:N\]\)"):
        devices.resolve_device("mps")
    with pytest.raises(PipelineError, match="unknown device 'gpu'"):
        analysis_device("gpu")  # the analysis reports it as an option error
    assert devices.resolve_device("cpu") == analysis_device("cpu") == "cpu"
    from facelens.cli import UsageError
    from facelens.cli.recon_asmv2l import _device

    with pytest.raises(UsageError, match="^--device: unknown device 'cuda:'"):
        _device("cuda:")


class _Tracker:
    """Counts how it is used: the observation's ``n_faces`` is the tracker's serial number."""

    made: ClassVar[list[_Tracker]] = []

    def __init__(self) -> None:
        self.serial, self.closed, self.seen = len(self.made), False, 0
        self.made.append(self)

    def process(self, rgb: np.ndarray) -> FaceObservation:
        assert not self.closed
        self.seen += 1
        return FaceObservation(quality=Quality.NO_FACE, n_faces=self.serial)

    def close(self) -> None:
        self.closed = True


def _frames(n: int) -> list[SampledFrame]:
    return [SampledFrame(i, 3 * i, i / 10, np.zeros((2, 2, 3), np.uint8)) for i in range(n)]


def test_track_frames_restarts_at_the_restart_points_and_closes():
    _Tracker.made = []
    pairs = list(track_frames(_frames(7), _Tracker, restart_every=3))
    assert [f.index for f, _ in pairs] == list(range(7))
    assert [o.n_faces for _, o in pairs] == [0, 0, 0, 1, 1, 1, 2]  # fresh trackers at 3 and 6
    assert [t.seen for t in _Tracker.made] == [3, 3, 1] and all(t.closed for t in _Tracker.made)
    _Tracker.made = []
    assert [o.n_faces for _, o in track_frames(_frames(7), _Tracker)] == [0] * 7  # None: one tracker
    _Tracker.made = []
    gen = track_frames(_frames(7), _Tracker, restart_every=3)
    next(gen)
    gen.close()  # the consumer stops early
    assert len(_Tracker.made) == 1 and _Tracker.made[0].closed


def test_stored_frames_reads_a_partial_file(tmp_path):
    p = tmp_path / "s.h5.partial"
    with h5py.File(p, "w") as f:
        fr = f.create_group("frames")
        for name, a in {"time_s": np.arange(5) / 10, "quality": np.zeros(5, np.uint8),
                        "expressions": np.ones((5, 3), np.float32), "coef_id": np.full((5, 2), 2.0)}.items():
            fr.create_dataset(name, data=a)
    got = stored_frames(p, 3, ("coef_id",), optional=("coef_exp",))
    assert got["coef_id"].shape == (3, 2) and got["coef_exp"] is None
    aff = stored_affect_inputs(p, 4)
    assert len(aff["time_s"]) == 4 and aff["emotions"] is None and aff["emotions_appearance"] is None
    with pytest.raises(ResultsError, match="cannot read the stored frames to resume"):
        stored_frames(p, 3, ("landmarks",))


def test_asmv2l_block_step_resolves_checkpoint_and_device_once(monkeypatch, tmp_path):
    from facelens.core.analysis import asmv2l_stage
    from facelens.core.analysis.contract import AnalysisConfig
    from facelens.core.analysis.frame_columns import frame_columns

    calls: list[tuple] = []
    monkeypatch.setattr(asmv2l_stage, "checkpoint_of", lambda spec: calls.append(("ckpt", spec)) or tmp_path / "w.pt")
    monkeypatch.setattr(asmv2l_stage, "reconstructor", lambda path, dev: calls.append(("net", path, dev)) or "NET")
    monkeypatch.setattr(asmv2l_stage, "block_outputs", lambda rgbs, cols, rec: {"_net": np.array([rec])})
    asmv2l_stage.block_network.cache_clear()
    config = AnalysisConfig(reconstruction="asmv2l:w.pt", device="cpu")
    frames = _frames(4)
    obs = [FaceObservation(quality=Quality.NO_FACE) for _ in frames]
    try:
        for _ in range(3):  # three blocks of one analysis
            assert frame_columns(frames, obs, config)["_net"][0] == "NET"
    finally:
        asmv2l_stage.block_network.cache_clear()
    assert calls == [("ckpt", "asmv2l:w.pt"), ("net", tmp_path / "w.pt", "cpu")]


def test_track_frames_from_a_restart_point_starts_with_one_fresh_tracker():
    _Tracker.made = []
    later = _frames(8)[3:]  # a resumed analysis: frames 3..7 with restart points at 3 and 6
    assert [o.n_faces for _, o in track_frames(later, _Tracker, restart_every=3)] == [0, 0, 0, 1, 1]
    assert len(_Tracker.made) == 2
