"""Bad-input corpus for the data-safety tests, generated on the fly (never committed media).

``video_corpus(folder, face_video)`` writes one file (or folder) per kind and returns
``{kind: (path, allowed exit codes of `facelens analyze`)}``. Exit 0 or 3 means "handled": the file
is usable (3 = no face in any frame, results still written); 2 means refused with a one-line reason.
Small videos are encoded with PyAV from frames of a shared test recording.
"""
from __future__ import annotations

import fractions
import struct
from pathlib import Path

import numpy as np

OK = {0, 3}
REFUSED = {2}


def face_frames(video: Path, n: int, width: int = 320) -> list[np.ndarray]:
    """The first ``n`` frames of ``video``, resized to ``width`` (even sizes for yuv420p)."""
    import av
    import cv2

    out = []
    with av.open(str(video)) as c:
        for frame in c.decode(video=0):
            img = frame.to_ndarray(format="rgb24")
            h = round(img.shape[0] * width / img.shape[1]) // 2 * 2
            out.append(cv2.resize(img, (width, h), interpolation=cv2.INTER_AREA))
            if len(out) == n:
                break
    return out


def encode(path: Path, frames: list[np.ndarray], rate: int = 10, pts_ms: list[int] | None = None) -> Path:
    """Encode RGB frames as H.264 MP4 (``pts_ms``: explicit, possibly irregular, timestamps)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        if pts_ms is not None:
            s.codec_context.time_base = fractions.Fraction(1, 1000)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if pts_ms is not None:
                f.pts, f.time_base = pts_ms[i], fractions.Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def rotate_90(path: Path) -> Path:
    """Mark an MP4 as rotated by 90° (the track header's display matrix, as phones write it)."""
    data = bytearray(path.read_bytes())
    identity = struct.pack(">9i", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    at = data.find(identity, data.find(b"tkhd"))
    assert at > 0, "no track header matrix found"
    data[at:at + 36] = struct.pack(">9i", 0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000)
    path.write_bytes(bytes(data))
    return path


def corrupt_middle(path: Path, n_bytes: int = 600) -> Path:
    """Overwrite bytes in the middle of the media data (packets broken mid-stream, container intact)."""
    data = bytearray(path.read_bytes())
    mdat = data.find(b"mdat")
    start = mdat + (len(data) - mdat) // 2
    data[start:start + n_bytes] = np.random.default_rng(5).integers(0, 256, n_bytes, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=16000)
        s.layout = "mono"
        for i in range(16):
            fr = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            fr.sample_rate, fr.pts = 16000, i * 1024
            for p in s.encode(fr):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def video_corpus(folder: Path, face_video: Path) -> dict[str, tuple[Path, set[int]]]:
    """Every bad/odd video kind of the corpus (see the module docstring)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    faces = face_frames(face_video, 12)
    valid = encode(folder / "valid.mp4", faces)
    kinds: dict[str, tuple[Path, set[int]]] = {}

    def put(kind: str, path: Path, codes: set[int]) -> None:
        kinds[kind] = (path, codes)

    (folder / "zero.mp4").write_bytes(b"")
    put("zero-byte file", folder / "zero.mp4", REFUSED)
    (folder / "truncated.mp4").write_bytes(valid.read_bytes()[: valid.stat().st_size // 2])
    put("truncated MP4", folder / "truncated.mp4", REFUSED)
    (folder / "notes.mp4").write_text("Interview notes, not a recording.\n" * 40)
    put("text renamed .mp4", folder / "notes.mp4", REFUSED)
    (folder / "random.mp4").write_bytes(rng.integers(0, 256, 64 * 1024, dtype=np.uint8).tobytes())
    put("random bytes", folder / "random.mp4", REFUSED)
    put("audio-only file", audio_only(folder / "audio.m4a"), REFUSED)
    noise = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(8)]
    put("video without a face", encode(folder / "noface.mp4", noise), {3})
    put("one-frame video", encode(folder / "oneframe.mp4", faces[:1]), OK)
    big = np.zeros((4320, 7680, 3), np.uint8)
    put("7680x4320 frame", encode(folder / "8k.mp4", [big]), OK)
    put("rotated video (90°)", rotate_90(encode(folder / "rotated.mp4", faces[:6])), OK)
    put("variable frame rate", encode(folder / "vfr.mp4", faces[:8], pts_ms=[0, 40, 200, 230, 700, 710, 1300, 1310]),
        OK)
    put("corrupt packets mid-stream", corrupt_middle(encode(folder / "corrupt.mp4", faces)), OK | REFUSED)
    odd = folder / "dossier patient é" / "séance ü 日本 1.mp4"
    odd.parent.mkdir()
    odd.write_bytes(valid.read_bytes())
    put("spaces and non-ASCII in the path", odd, OK)
    (folder / "folder.mp4").mkdir()
    put("directory named like a video", folder / "folder.mp4", REFUSED)
    valid.unlink()
    return kinds


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (to prove earlier results are left intact)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary or unfinished files a refused input must not leave behind."""
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".partial", ".tmp")))

