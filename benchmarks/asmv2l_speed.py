"""Faces per second of ``--reconstruction asmv2l`` (crop + network, one batch per block) against the
morphable fit (``--reconstruction fit``) on the same frames, in one run.

Frames: the first sampled frames of a shared recording, tracked once (tracking is not timed). Each
measurement is the median of ``--repeats`` passes. On a GPU pass ``--device cuda --batches 64,256``.

    python benchmarks/asmv2l_speed.py [--video ../shared/media/videos/pyfeat_single_face.mp4]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--video", type=Path, default=Path(__file__).resolve().parents[2] / "shared/media/videos/pyfeat_single_face.mp4")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batches", default="16,64")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from facelens.core.analysis.asmv2l_stage import block_network, block_outputs
    from facelens.core.analysis.recon_stage import ReconStage
    from facelens.core.analysis.trackers import track_frames
    from facelens.core.face.geometry import head_pose_batch
    from facelens.core.face.tracking import FaceTracker
    from facelens.core.media.video import open_media

    n_max = max(int(b) for b in args.batches.split(","))
    rgbs, lms = [], []
    with open_media(args.video) as src:
        for f, o in track_frames(src.iter_sampled(30.0), FaceTracker):
            if o.landmarks is not None:
                rgbs.append(f.rgb)
                lms.append(o.landmarks)
            if len(rgbs) == n_max:
                break
    while len(rgbs) < n_max:  # a short clip: reuse its frames
        rgbs, lms = rgbs + rgbs[: n_max - len(rgbs)], lms + lms[: n_max - len(lms)]
    lm = np.asarray(lms, np.float32)
    pose = head_pose_batch(lm)
    cols = {"landmarks": lm, "rotation": pose["rotation"].astype(np.float32),
            "translation": pose["translation"].astype(np.float32), "scale": pose["scale"].astype(np.float32),
            "quality": np.zeros(len(lm), np.uint8)}
    net = block_network("asmv2l", args.device)  # loads the network
    fit = ReconStage()
    print(f"{args.video.name}: {n_max} frames, device {args.device}, torch threads {args.threads}")
    for b in (int(x) for x in args.batches.split(",")):
        sub = {k: v[:b] for k, v in cols.items()}
        block_outputs(rgbs[:b], sub, net)  # warm-up
        t_net, t_fit = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            block_outputs(rgbs[:b], sub, net)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            t_net.append(time.perf_counter() - t0)
            fit.reset()
            t0 = time.perf_counter()
            fit.columns(dict(sub))
            t_fit.append(time.perf_counter() - t0)
        net, fitm = float(np.median(t_net)), float(np.median(t_fit))
        print(f"batch {b:4d}: asmv2l {b / net:8.1f} faces/s ({1000 * net / b:.2f} ms/face); "
              f"fit {b / fitm:8.1f} faces/s ({1000 * fitm / b:.3f} ms/face)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
