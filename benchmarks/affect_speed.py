"""Affect stage speed (emotion + valence/arousal, ms per frame) and top-emotion agreement on posed clips.

Usage: ``python benchmarks/affect_speed.py [--media DIR] [--no-accuracy]``

Speed is reported as wall time and as CPU time of this process (``time.process_time``), because
the shared machine is oversubscribed; per part (crop, model, fusion + VA) and for the whole stage.

Model variants: the same FER2013 weights run as the NCHW torch module of the original port (the
baseline), ``torch.jit.trace`` + ``freeze``, channels-last torch with and without 32-face chunks (the
``torch`` backend), and onnxruntime (the default CPU backend); CPU ms per face at batch 1/32/64 with
load time and the largest softmax difference to the baseline, all in the same run.
Stage: ``AffectStage.process`` on 640x360 frames with one face box each (crop + model + VA), CPU,
batches of 1, 32 and 64, with the current emotion backend and with the baseline model (ratio = speed-up),
and with each posterior averaged with its mirror image's (``stage (mirror)``, the option measured and not
kept: its cost).
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


def _loaded(make) -> tuple[object, float]:
    """(object, wall s to make it)."""
    t0 = time.perf_counter()
    obj = make()
    return obj, time.perf_counter() - t0


def _baseline_model():
    """The implementation before this benchmark's changes: NCHW torch module, whole batch at once."""
    import torch

    from facelens.core.affect.fer import FerEmotionModel

    m = FerEmotionModel(device="cpu", backend="torch")
    m._net = m.net.to(memory_format=torch.contiguous_format)  # the lazily built module, NCHW

    def logits(x):  # as fer.py's logits() was: inference_mode, NCHW, no chunking
        with torch.inference_mode():
            return m.net(torch.from_numpy(np.ascontiguousarray(x))).float().numpy()

    m._torch_logits = logits  # instance override: predict() -> logits() -> this
    return m


def model_variants(threads: int, repeats: int = 3) -> None:
    """Model only, CPU ms per face at batch 1/32/64 for each way of running the same weights."""
    import copy
    import warnings

    import torch

    from facelens.core.affect.fer import FerEmotionModel

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(64, 64, 64)).astype(np.float32)
    base, t_base = _loaded(_baseline_model)
    cl, t_cl = _loaded(lambda: FerEmotionModel(device="cpu", backend="torch"))
    ort, t_ort = _loaded(lambda: FerEmotionModel(device="cpu", backend="onnxruntime"))
    nchw = base.net

    def trace():
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            return torch.jit.freeze(torch.jit.trace(copy.deepcopy(nchw), torch.zeros(32, 1, 64, 64)))

    traced, t_jit = _loaded(trace)
    t_jit += t_base

    def jit_run(b):
        with torch.inference_mode():
            return traced(torch.from_numpy(x[:b, None])).numpy()

    def cl_whole(b):  # channels-last without the 32-face chunks
        with torch.inference_mode():
            t = torch.from_numpy(x[:b, None]).contiguous(memory_format=torch.channels_last)
            return cl.net(t).numpy()

    variants = {
        "baseline NCHW": (t_base, lambda b: base.predict(x[:b])),
        "jit.trace+freeze": (t_jit, jit_run),
        "channels_last": (t_cl, cl_whole),
        "ch_last+chunk32": (t_cl, lambda b: cl.predict(x[:b])),
        "onnxruntime": (t_ort, lambda b: ort.predict(x[:b])),
    }
    ref = base.predict(x)
    print(f"model variants, {threads} thread(s), CPU ms/face (ratio = baseline / variant, same batch); "
          f"load average {os.getloadavg()[0]:.1f}")
    print("variant            load s  max|dp| vs base   b1             b32            b64")
    base_ms: dict[int, float] = {}
    for name, (t_load, fn) in variants.items():
        out = fn(64)  # the two bare-module variants give logits, the others probabilities
        diff = float(np.abs((_softmax(out) if name in ("jit.trace+freeze", "channels_last") else out) - ref).max())
        cells = []
        for b in (1, 32, 64):
            fn(b)  # warm-up
            _, cpu = _timed(lambda: fn(b), max(1, 64 // b) * repeats)
            ms = cpu / b * 1e3
            base_ms.setdefault(b, ms)
            cells.append(f"{ms:6.3f} (x{base_ms[b] / ms:4.1f})")
        print(f"{name:18s} {t_load:6.2f}  {diff:9.1e}      " + "  ".join(cells))


def _softmax(z):
    z = np.asarray(z, np.float64)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def speed(threads: int, repeats: int = 3) -> None:
    """ms per frame for crop, model, fusion + VA and the whole stage, current vs baseline model."""
    import cv2
    import torch

    from facelens.core.affect.crops import gray_face_crop
    from facelens.core.affect.fer import INPUT_SIZE
    from facelens.core.affect.stage import AffectStage
    from facelens.core.affect.va import CircumplexVA
    from facelens.core.face.geometry import EXPRESSION_NAMES
    from facelens.core.common.types import FaceObservation, Quality

    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    stages = {"baseline": AffectStage(_baseline_model()),
              "current": AffectStage.default(device="cpu", prefer_user_models=False),
              "mirror": AffectStage.default(device="cpu", prefer_user_models=False)}
    stages["mirror"].emotion_model.mirror_average = True  # each posterior averaged with its mirror image's
    model = stages["current"].emotion_model
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, size=(360, 640, 3), dtype=np.uint8) for _ in range(64)]
    box = np.array([220, 60, 400, 280], np.float32)
    obs = [FaceObservation(Quality.OK, bbox=box) for _ in range(64)]
    expr = rng.normal(0, 0.01, size=(64, len(EXPRESSION_NAMES)))
    g = stages["current"].g  # G (the default estimator) also reads the morphable fit's coefficients
    coef = None if g is None else rng.normal(0, 0.3, size=(64, g.model.n_inputs - (len(g.labels) if g.uses_appearance else 0)))
    print(f"affect stage, torch {torch.__version__}, {torch.get_num_threads()} thread(s), device cpu, "
          f"emotion backend {model.backend}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("batch  part              wall ms/frame  CPU ms/frame")
    for b in (1, 32, 64):
        n = max(1, 64 // b) * repeats
        crops = np.stack([gray_face_crop(f, box, INPUT_SIZE) for f in frames[:b]])
        x = model.preprocess(crops)
        fer = model.predict(x)
        va = CircumplexVA()
        k = iter(range(10**9))
        parts = {
            "crop": lambda: [gray_face_crop(f, box, INPUT_SIZE) for f in frames[:b]],
            "preprocess": lambda: model.preprocess(crops),
            "model": lambda: model.predict(x),
            "model (baseline)": lambda: stages["baseline"].emotion_model.predict(x),
            "fusion+VA": lambda: va.estimate_fused(fer, expr[:b], EXPRESSION_NAMES, (np.arange(b) + b * next(k)) / 10,
                                                   np.ones(b, bool)),
            "stage": lambda: stages["current"].process(frames[:b], obs[:b], expr[:b], (np.arange(b) + b * next(k)) / 10,
                                                       coef=None if coef is None else coef[:b]),
            "stage (baseline)": lambda: stages["baseline"].process(frames[:b], obs[:b], expr[:b],
                                                                   (np.arange(b) + b * next(k)) / 10),
            "stage (mirror)": lambda: stages["mirror"].process(frames[:b], obs[:b], expr[:b],
                                                               (np.arange(b) + b * next(k)) / 10,
                                                               coef=None if coef is None else coef[:b]),
        }
        timed = {}
        for name, fn in parts.items():
            fn()  # warm-up
            timed[name] = _timed(fn, n)
        for name, (wall, cpu) in timed.items():
            ratio = ""
            if name in ("model", "stage"):
                bw, bc = timed[f"{name} (baseline)"]
                ratio = f"(x{bw / wall:4.1f} wall, x{bc / cpu:4.1f} CPU vs baseline)"
            if name == "stage":
                sw, sc = timed["stage (mirror)"]
                ratio += f" (the mirror average: x{sc / cpu:4.2f} CPU)"
            print(f"{b:5d}  {name:16s} {wall / b * 1e3:8.3f}      {cpu / b * 1e3:8.3f}   {ratio}")


def accuracy(media: Path) -> None:
    from facelens.core.affect.fer import FER_LABELS
    from facelens.core.affect.va import circumplex_coordinates
    from facelens.core.analysis.pipeline import analyze_to_file
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
        model_variants(threads)
        speed(threads)
    print("accuracy: see benchmarks/affect_eval.py (FER2013 alone vs fused)")
    if not args.no_accuracy:
        accuracy(args.media)


if __name__ == "__main__":
    main()
