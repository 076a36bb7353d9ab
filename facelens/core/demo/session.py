"""The embedded synthetic demo session (Qt-free).

FaceLens ships no patient video, so ``build_demo`` makes one: a public-domain portrait is warped
through a scripted sequence of expressions (see :mod:`facelens.core.demo.warp`) with slight head
motion, encoded as H.264, described by ``script.json`` and a segments CSV, and analysed like any
recording (the results say ``demo=True``). The output folder carries a ``demo.json`` manifest with
content hashes, so a second call with the same arguments returns the existing files at once.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from facelens.core.annotation.segments import Segment, write_segments_csv
from facelens.core.common.atomic import atomic_write_text
from facelens.core.common.paths import user_path
from facelens.core.demo import script as demo_script
from facelens.core.demo.script import (
    ScriptSpan,
    load_script,
    plateau_means,
    pose_weights,
    read_script,
    relevant_measures,
    script_resource,
)
from facelens.core.demo.warp import PORTRAIT_SOURCE, DemoError, FaceAxes, HeadMotion, PoseBank

NOTICE = "Synthetic demo session generated from a public-domain portrait; not a patient recording."
CAVEAT = (
    "Expressions are geometric warps of one still photo: the landmark-based expression measures follow "
    "the script by construction; the emotion estimator reacts only partly (what it reads on each scripted "
    "expression: the summary of 'facelens demo'), so the demo's emotion and valence/arousal "
    "values show the software working, not validated affect."
)


MANIFEST_NAME = "demo.json"
VIDEO_NAME = "demo.mp4"
RESULTS_NAME = "demo.h5"
ANALYSIS_FPS = 10.0
__all__ = ["DemoError", "DemoSession", "ScriptSpan", "build_demo", "default_demo_dir", "plateau_means",
           "read_script", "relevant_measures"]


@dataclass
class DemoSession:
    """Paths of a built demo session and what a user must be told about it."""

    video: Path
    results: Path | None
    script: Path
    segments_csv: Path
    notice: str = NOTICE
    caveat: str = CAVEAT
    spans: list[ScriptSpan] = field(default_factory=list)
    ramp_s: float = 0.0
    reused: bool = False  # True when an existing complete output was returned unchanged
    generation_s: float = 0.0  # wall time spent making the video (0 when it was reused)
    analysis_s: float = 0.0  # wall time spent analysing it (0 when the results were reused)


def default_demo_dir() -> Path:
    """``$FACELENS_DEMO_DIR`` or ``~/.cache/facelens/demo``."""
    env = os.environ.get("FACELENS_DEMO_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "facelens" / "demo"


def _render_video(path: Path, bank: PoseBank, spans: list[ScriptSpan], ramp_s: float,
                  duration_s: float, fps: float, seed: int) -> int:
    """Encode the scripted frames as H.264 (yuv420p) MP4 into ``path``; returns the frame count."""
    import av

    h, w = (d - d % 2 for d in bank.portrait.shape[:2])  # yuv420p needs even sizes
    axes = FaceAxes.from_landmarks(bank.landmarks)
    motion = HeadMotion(axes.centre, axes.width, seed)
    n = round(duration_s * fps)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "20", "preset": "veryfast"}
        for i in range(n):
            t = i / fps
            rgb = bank.render(pose_weights(spans, t, ramp_s), motion.matrix(t))[:h, :w]
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return n


def _segment_note(span: ScriptSpan) -> str:
    if span.expression == "neutral":
        return "scripted neutral; synthetic demo"
    return f"scripted {span.expression} at intensity {span.intensity:.1f} (geometric warp); synthetic demo"


def _sha256(path: Path) -> str:
    from facelens.core.common.hashing import sha256_file

    return sha256_file(path)


def _write_atomic(path: Path, text: str) -> None:
    atomic_write_text(path, text)


def _manifest_key(duration_s: float, fps: float, seed: int) -> dict[str, object]:
    """What the demo output depends on: arguments, generator code, script and portrait."""
    from matplotlib import cbook

    from facelens.core.demo import warp as demo_warp

    code = hashlib.sha256()
    for p in (Path(__file__), Path(demo_script.__file__), Path(demo_warp.__file__), script_resource()):
        code.update(p.read_bytes())
    portrait = Path(cbook.get_sample_data(demo_warp.PORTRAIT_NAME, asfileobj=False))
    return {
        "duration_s": float(duration_s), "fps": float(fps), "seed": int(seed),
        "generator_sha256": code.hexdigest(), "portrait_sha256": _sha256(portrait),
    }


def _read_manifest(out: Path) -> dict:
    try:
        data = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _intact(out: Path, manifest: dict, roles: Sequence[str]) -> bool:
    """True when every listed output exists and still has the hash the manifest recorded."""
    files = manifest.get("files", {})
    for role in roles:
        entry = files.get(role)
        if not entry or not (out / entry["name"]).is_file() or _sha256(out / entry["name"]) != entry["sha256"]:
            return False
    return True


def _file_entry(path: Path) -> dict[str, str]:
    return {"name": path.name, "sha256": _sha256(path)}


def build_demo(out_dir: str | Path, *, analyse: bool = True, duration_s: float = 60.0,
               fps: float = 25.0, seed: int = 0) -> DemoSession:
    """Generate (or reuse) the synthetic demo session in ``out_dir`` and optionally analyse it.

    Parameters
    ----------
    out_dir
        Folder for ``demo.mp4``, ``script.json``, ``segments.csv``, ``demo.h5`` and ``demo.json``.
    analyse
        Also run the analysis pipeline at 10 fps (results marked ``demo=True``).
    duration_s, fps
        Length and frame rate of the video; the packaged 60-s script is scaled to the length.
    seed
        Seeds the head motion.

    Raises
    ------
    DemoError
        Unusable arguments, no face on the portrait, or no analysis pipeline.
    """
    if not (math.isfinite(duration_s) and 2.0 <= duration_s <= 3600.0):
        raise DemoError(f"demo duration must be between 2 s and 1 h, got {duration_s}")
    if not (math.isfinite(fps) and 5.0 <= fps <= 120.0):
        raise DemoError(f"demo frame rate must be between 5 and 120 fps, got {fps}")
    out = user_path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DemoError(f"cannot create demo folder {out}: {exc.strerror}") from None
    with _folder_lock(out):
        return _build(out, analyse, duration_s, fps, seed)


@contextmanager
def _folder_lock(out: Path) -> Iterator[None]:
    """Serialise builds of one folder: the GUI and the CLI may start the demo at the same time."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform: concurrent builds are then the user's risk
        yield
        return
    with open(out / ".demo.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build(out: Path, analyse: bool, duration_s: float, fps: float, seed: int) -> DemoSession:
    spans, ramp, labels = load_script(duration_s)
    video, script, csv = out / VIDEO_NAME, out / "script.json", out / "segments.csv"
    key = _manifest_key(duration_s, fps, seed)
    manifest = _read_manifest(out)
    reused = manifest.get("key") == key and _intact(out, manifest, ("video", "script", "segments_csv"))
    generation_s = 0.0
    if not reused:
        # Stale until the new outputs are complete; old results describe another video.
        for name in (MANIFEST_NAME, RESULTS_NAME, RESULTS_NAME + ".partial"):
            (out / name).unlink(missing_ok=True)
        t0 = time.perf_counter()
        from facelens.core.demo.warp import detect_mesh, load_portrait

        portrait, _ = load_portrait()
        bank = PoseBank.build(portrait, detect_mesh(portrait))
        partial = video.with_name(f"{video.name}.{os.getpid()}.partial")
        try:
            n_frames = _render_video(partial, bank, spans, ramp, duration_s, fps, seed)
            os.replace(partial, video)
        finally:
            partial.unlink(missing_ok=True)
        generation_s = time.perf_counter() - t0
        _write_atomic(script, json.dumps([asdict(s) for s in spans], indent=1) + "\n")
        write_segments_csv(
            [Segment(s.start_s, s.end_s, labels[s.expression], scenario="elicitation video",
                     note=_segment_note(s), author="demo script", id=f"demo{i:03d}")
             for i, s in enumerate(spans) if s.expression in labels],
            csv,
        )
        manifest = {
            "key": key, "notice": NOTICE, "caveat": CAVEAT, "portrait": PORTRAIT_SOURCE,
            "ramp_s": ramp, "n_frames": n_frames, "generation_s": round(generation_s, 2),
            "files": {"video": _file_entry(video), "script": _file_entry(script), "segments_csv": _file_entry(csv)},
        }
        _write_atomic(out / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
    results: Path | None = None
    analysis_s = 0.0
    if analyse:
        results = out / RESULTS_NAME
        from facelens.core.affect.choice import DEFAULT_ESTIMATOR
        from facelens.core.affect.illumination import PREPROCESSING, recorded_preprocessing
        from facelens.core.face.tracking import gate_settings, recorded_gates

        # else stale numbers: another estimator, crops prepared another way, frames gated another
        # way, or another G
        same_estimator = (manifest.get("va_estimator", "circumplex") == DEFAULT_ESTIMATOR
                          and recorded_preprocessing(manifest) == PREPROCESSING
                          and recorded_gates(manifest.get("quality_gates", {})) == gate_settings()
                          and manifest.get("g_sha256") == _g_sha256())
        if not (reused and same_estimator and _intact(out, manifest, ("results",))):
            reused = False
            t0 = time.perf_counter()
            _analyse(video, results)
            analysis_s = time.perf_counter() - t0
            manifest["files"]["results"] = _file_entry(results)
            manifest["analysis_fps"] = ANALYSIS_FPS
            manifest["va_estimator"] = DEFAULT_ESTIMATOR
            manifest["appearance_preprocessing"] = PREPROCESSING
            manifest["quality_gates"] = gate_settings()
            manifest["g_sha256"] = _g_sha256()
            _write_atomic(out / MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
    return DemoSession(video=video, results=results, script=script, segments_csv=csv, spans=spans,
                       ramp_s=ramp, reused=reused, generation_s=generation_s,
                       analysis_s=analysis_s)


def _g_sha256() -> str:
    """SHA-256 of the shipped G as the model manifest lists it (a retrained G makes the demo's analysis stale)."""
    from facelens.core.registry import ModelError, registry

    try:
        return str(registry.get("va-g").sha256)
    except (ModelError, AttributeError):
        return ""


def _analyse(video: Path, results: Path) -> None:
    try:
        from facelens.core.analysis.pipeline import PipelineError, analyze_to_file
        from facelens.core.media.video import VideoError
        from facelens.core.registry import ModelError
        from facelens.core.results import ResultsError
    except ImportError as exc:
        raise DemoError(f"the analysis pipeline is not available ({exc})") from None
    try:
        analyze_to_file(video, results, fps=ANALYSIS_FPS, demo=True)
    except (ModelError, PipelineError, ResultsError, VideoError) as exc:
        raise DemoError(f"analysing the demo video failed: {exc}") from None
