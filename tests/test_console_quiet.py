"""Native log lines (mediapipe, TensorFlow Lite, absl) are hidden by default and shown with --verbose."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from facelens.core.common.console import hidden, native_log_filter

CHATTER = [
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    (b"W0000 00:00:1796185896.016246   10071 inference_feedback_manager.cc:114] Feedback manager requires "
     b"a model with a single signature inference. Disabling support for feedback tensors."),
    (b"W0000 00:00:1796185896.104790   10069 landmark_projection_calculator.cc:186] Using NORM_RECT without "
     b"IMAGE_DIMENSIONS is only supported for the square ROI."),
]


def test_the_chatter_is_recognised_and_other_lines_are_not():
    assert all(hidden(line) for line in CHATTER)
    assert not hidden(b"E0000 00:00:1796185896.1   10069 calculator_graph.cc:887] INTERNAL: graph failed")
    assert not hidden(b"facelens: error: file not found: x.mp4")
    assert not hidden(b"Warning: something a user should read")


def test_filter_drops_chatter_and_keeps_the_rest_in_order(capfd):
    with native_log_filter():
        os.write(2, b"first\n" + CHATTER[2] + b"\n" + b"\ranalysing: 50%")
        os.write(2, b"\ranalysing: 100%\n" + CHATTER[0] + b"\nlast\n")
    assert capfd.readouterr().err == "first\n\ranalysing: 50%\ranalysing: 100%\nlast\n"
    with native_log_filter(enabled=False):
        os.write(2, CHATTER[0] + b"\n")
    assert capfd.readouterr().err == CHATTER[0].decode() + "\n"


def _analyze(media: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("facelens")
    return subprocess.run([str(exe), *flags, "analyze", str(media / "images" / "pyfeat_happy_single_face.jpg"),
                           "-o", str(tmp_path / f"r{len(flags)}.h5")], check=False, capture_output=True,
                          timeout=300)


def test_cli_hides_native_lines_unless_verbose(media, tmp_path):
    quiet = _analyze(media, tmp_path)
    assert quiet.returncode == 0, quiet.stderr[-500:]
    assert not any(hidden(line) for line in quiet.stderr.splitlines()), quiet.stderr[-500:]
    loud = _analyze(media, tmp_path, "--verbose")
    assert loud.returncode == 0
    assert any(hidden(line) for line in loud.stderr.splitlines())  # mediapipe did talk
