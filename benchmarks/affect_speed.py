"""Affect stage speed (emotion + valence/arousal, ms per frame) and top-emotion agreement on posed clips.

Usage: ``python benchmarks/affect_speed.py [--media DIR] [--no-accuracy]``

Speed is reported as wall time and as CPU time of this process (``time.process_time``), because
the shared machine is oversubscribed; per part (crop, model, fusion + VA) and for the whole stage.

Speed: ``AffectStage.process`` on 640x360 frames with one face box each (crop + model + VA), CPU,
batches of 1, 32 and 64; the baseline is batch 1 measured in the same run (ratio = speed-up).
Accuracy: the recordings in ``shared/media`` whose MANIFEST.tsv describes the shown expression over
time spans are analysed with the pipeline at 10 fps; on usable frames inside those spans we compare
(a) the FER2013 model's top class and (b) the class whose circumplex coordinates (ANEW) lie nearest
to the default estimator's (valence, arousal). A frame counts as correct when the class is in the
span's accepted set (MANIFEST descriptions are loose, e.g. "frown (anger/disgust-like)").
"""
# ruff: noqa: B023  (the timing lambdas run inside their own loop iteration)
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

# (file, start_s, end_s, accepted classes) from MANIFEST.tsv's descriptions
SPANS = [
    ("videos/pyfeat_single_face.mp4", 0.0, 0.6, {"neutral"}),
    ("videos/pyfeat_single_face.mp4", 0.9, 2.43, {"happy"}),
    ("videos/pyfeat_WolfgangLanger_Pexels.mp4", 0.0, 2.0, {"sad"}),
    ("videos/pyfeat_WolfgangLanger_Pexels.mp4", 11.0, 19.7, {"happy"}),
    ("videos/liveportrait_d3.mp4", 2.0, 3.0, {"neutral", "sad"}),
    ("videos/liveportrait_d3.mp4", 4.0, 5.0, {"angry", "disgust"}),
    ("videos/liveportrait_d3.mp4", 6.0, 9.0, {"neutral"}),
    ("videos/liveportrait_d3.mp4", 10.0, 11.8, {"surprise"}),
]


def _timed(fn, repeats: int) -> tuple[float, float]:
    """(wall s, CPU s) per call of ``fn`` over ``repeats`` calls (CPU = process_time: this process only)."""
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - w0) / repeats, (time.process_time() - c0) / repeats


def speed(threads: int, repeats: int = 3) -> None:
    """ms per frame for crop, model, fusion + VA and the whole stage; baseline: batch 1, same run."""
    import cv2
    import torch

    from facelens.core.affect.crops import gray_face_crop
    from facelens.core.affect.fer import INPUT_SIZE
    from facelens.core.affect.stage import AffectStage
    from facelens.core.affect.va import CircumplexVA
    from facelens.core.geometry import EXPRESSION_NAMES
    from facelens.core.types import FaceObservation, Quality

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    stage = AffectStage.default(device="cpu", prefer_user_models=False)
    model = stage.emotion_model
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(360, 640, 3), dtype=np.uint8) for _ in range(64)]
    box = np.array([220, 60, 400, 280], np.float32)
    obs = [FaceObservation(Quality.OK, bbox=box) for _ in range(64)]
    expr = rng.normal(0, 0.01, size=(64, len(EXPRESSION_NAMES)))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device cpu; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("batch  part          wall ms/frame  CPU ms/frame")
    base = {}
    for b in (1, 32, 64):
        n = max(1, 64 // b) * repeats
        crops = np.stack([gray_face_crop(f, box, INPUT_SIZE) for f in frames[:b]])
        x = model.preprocess(crops)
        fer = model.predict(x)
        va = CircumplexVA()
        k = iter(range(10**9))
        parts = {
            "crop": lambda: [gray_face_crop(f, box, INPUT_SIZE) for f in frames[:b]],
            "model": lambda: model.predict(x),
            "fusion+VA": lambda: va.estimate_fused(fer, expr[:b], EXPRESSION_NAMES, (np.arange(b) + b * next(k)) / 10,
                                                   np.ones(b, bool)),
            "stage": lambda: stage.process(frames[:b], obs[:b], expr[:b], (np.arange(b) + b * next(k)) / 10),
        }
        for name, fn in parts.items():
            fn()  # warm-up
            wall, cpu = _timed(fn, n)
            base.setdefault(name, (wall / 1, cpu / 1))
            bw, bc = base[name]
            print(f"{b:5d}  {name:12s} {wall / b * 1e3:8.3f}      {cpu / b * 1e3:8.3f}   "
                  f"(x{bw / (wall / b):4.1f} wall, x{bc / (cpu / b):4.1f} CPU vs batch 1)")


def accuracy(media: Path) -> None:
    from facelens.core.affect.fer import FER_LABELS
    from facelens.core.affect.va import circumplex_coordinates
    from facelens.core.pipeline import analyze_to_file
    from facelens.core.results import SessionResults

    coords = circumplex_coordinates(FER_LABELS)
    tally = {"fer": [0, 0], "va": [0, 0]}
    with tempfile.TemporaryDirectory() as tmp:
        cache: dict[str, Path] = {}
        for rel, t0, t1, ok_set in SPANS:
            if rel not in cache:
                cache[rel] = analyze_to_file(media / rel, Path(tmp) / (Path(rel).stem + ".h5"), fps=10.0)
            with SessionResults.open(cache[rel]) as r:
                sel = (r.time_s >= t0) & (r.time_s < t1) & r.usable & np.isfinite(r.valence)
                fer_top = [FER_LABELS[i] for i in np.argmax(r.emotions[sel], axis=1)]
                va = np.c_[r.valence[sel], r.arousal[sel]]
                va_top = [FER_LABELS[i] for i in np.argmin(((va[:, None] - coords[None]) ** 2).sum(-1), axis=1)]
            f_ok = sum(c in ok_set for c in fer_top)
            v_ok = sum(c in ok_set for c in va_top)
            tally["fer"][0] += f_ok
            tally["va"][0] += v_ok
            tally["fer"][1] += len(fer_top)
            tally["va"][1] += len(va_top)
            print(f"{Path(rel).stem:32s} {t0:5.1f}-{t1:5.1f}s {'/'.join(sorted(ok_set)):16s} "
                  f"n={len(fer_top):3d}  FER2013 {f_ok / max(len(fer_top), 1):5.2f}  VA-nearest {v_ok / max(len(va_top), 1):5.2f}")
    for k, (c, n) in tally.items():
        print(f"overall {k}: {c}/{n} = {c / max(n, 1):.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    ap.add_argument("--no-accuracy", action="store_true")
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for threads in sorted({1, os.cpu_count() or 1}):
        speed(threads)
    print("accuracy: see benchmarks/affect_eval.py (FER2013 alone vs fused)")
    if not args.no_accuracy:
        accuracy(args.media)


if __name__ == "__main__":
    main()
