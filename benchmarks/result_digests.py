"""SHA-256 digests of every per-frame dataset of results files, to prove a change keeps results identical.

Analyses the recordings in ``shared/media`` (or ``FACELENS_MEDIA``) with ``facelens analyze`` (any
engine options after ``--``) and prints, or writes with ``--write FILE``, one digest per dataset; with
``--check FILE`` it compares against an earlier run and lists every dataset that differs.

    python benchmarks/result_digests.py --write /tmp/before.json -- --workers 1
    python benchmarks/result_digests.py --check /tmp/before.json -- --workers 1
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CLIPS = ["videos/pyfeat_single_face.mp4", "videos/pyfeat_WolfgangLanger_Pexels.mp4",
         "videos/pyfeat_noface_face.mov", "videos/liveportrait_d3.mp4", "images/pyfeat_happy_single_face.jpg"]


def media_dir() -> Path:
    env = os.environ.get("FACELENS_MEDIA")
    for c in ([Path(env)] if env else []) + [REPO.parent / "shared" / "media"]:
        if (c / "videos").is_dir():
            return c
    raise SystemExit("media not found: set FACELENS_MEDIA")


def digests(results: Path) -> dict[str, str]:
    """One digest per dataset under /frames (its dtype, shape and bytes), and ``NAME:mean_abs`` (the
    finite values' mean absolute value, for comparisons across machines whose float kernels differ)."""
    out: dict[str, str] = {}
    with h5py.File(results, "r") as f:
        for name in sorted(f["frames"]):
            a = np.ascontiguousarray(f["frames"][name][()])
            h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
            h.update(a.tobytes())
            out[name] = h.hexdigest()[:16]
            finite = np.abs(a[np.isfinite(a)]) if a.dtype.kind == "f" else np.abs(a.astype(np.float64))
            out[f"{name}:mean_abs"] = f"{float(finite.mean()) if finite.size else 0.0:.6g}"
    return out


def run(extra: list[str]) -> dict[str, dict[str, str]]:
    media, table = media_dir(), {}
    exe = Path(sys.executable).with_name("facelens")
    with tempfile.TemporaryDirectory() as tmp:
        for rel in CLIPS:
            out = Path(tmp) / (Path(rel).stem + ".h5")
            subprocess.run([str(exe), "analyze", str(media / rel), "-o", str(out), *extra],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            table[rel] = digests(out)
    return table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", type=Path)
    ap.add_argument("--check", type=Path)
    ap.add_argument("extra", nargs="*", help="options passed to facelens analyze (after --)")
    a = ap.parse_args()
    table = run(a.extra)
    if a.write:
        a.write.write_text(json.dumps(table, indent=1))
    if a.check:
        ref = json.loads(a.check.read_text())
        diff = [(c, d) for c in ref for d in ref[c] if ":" not in d and table.get(c, {}).get(d) != ref[c][d]]
        extra = [(c, d) for c in table for d in table[c] if d not in ref.get(c, {})]
        for c, d in diff:
            print(f"DIFFERS {c} {d}")
        for c, d in extra:
            print(f"NEW     {c} {d}")
        print("identical" if not diff else f"{len(diff)} datasets differ")
        return 1 if diff else 0
    if not a.write:
        print(json.dumps(table, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
