"""CPU cost per frame of the morphable fit and of G, next to the existing geometry step (baseline).

Usage: ``python benchmarks/morphable_speed.py RESULTS.h5 [--batch 32] [--repeats 5] [--torch DEVICE]``

Frames come from a results file (its stored landmarks and pose). Per block of ``--batch`` frames,
in one process, alternating: ``geometry.expression_measures_batch`` (the 20 measures every
analysis computes today: the baseline), the causal morphable fit (``ReconStage.columns``), and G
(``GRunner.step`` on coefficients + a stored posterior), then the session pass that ends every
analysis (``g_session``: the fit against the person's reference and G with the mirror average, over
the whole session in the pass's chunks). Reported: CPU milliseconds per frame (process time, so other
jobs on the machine count less than in wall time), median over repeats.

``--torch cpu|cuda`` times the torch implementations too (``fit_torch``, ``g_torch``: what an
analysis on a GPU runs), on the same blocks in the same run, in wall milliseconds per frame
(``torch.cuda.synchronize`` after each block; process time does not see a GPU's work), next to the
numpy implementations' wall time.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    from threadpoolctl import threadpool_limits

    from facelens.core.affect.g_runtime import GRunner, load_default_g
    from facelens.core.affect.g_session import g_session, in_memory
    from facelens.core.analysis.recon_stage import fit_inputs
    from facelens.core.analysis.session_pass import CHUNK
    from facelens.core.analysis.recon_stage import ReconStage
    from facelens.core.face import geometry
    from facelens.core.results import SessionResults

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--torch", metavar="DEVICE", help="also time the torch fit and G on this device (cpu, cuda)")
    args = ap.parse_args()
    with SessionResults.open(args.results) as r:
        cols = {"landmarks": r.landmarks(slice(None)), "rotation": r.rotation, "translation": r.translation,
                "scale": r.scale, "quality": r.quality}
        post = np.asarray(r.emotions if r.emotions is not None else np.full((r.n_frames, 7), 1 / 7))
    n = len(cols["quality"])
    blocks = [slice(s, min(s + args.batch, n)) for s in range(0, n, args.batch)]
    g = load_default_g()
    times: dict[str, list[float]] = {"geometry (baseline)": [], "morphable fit": [], "G": [], "session pass": []}
    pf, ok = fit_inputs(cols)
    for _ in range(args.repeats):
        recon, runner = ReconStage(), GRunner(g)
        t = {k: 0.0 for k in times}
        for sl in blocks:
            lm = cols["landmarks"][sl]
            c0 = time.process_time()
            geometry.expression_measures_batch(lm, geometry.head_pose_batch(lm))
            c1 = time.process_time()
            fit = recon.columns({k: v[sl] for k, v in cols.items()})
            c2 = time.process_time()
            runner.step(np.concatenate([fit["coef_exp"], post[sl]], axis=1), np.isfinite(fit["coef_exp"][:, 0]))
            c3 = time.process_time()
            t["geometry (baseline)"] += c1 - c0
            t["morphable fit"] += c2 - c1
            t["G"] += c3 - c2
        c4 = time.process_time()
        with threadpool_limits(1, "blas"):  # as the session pass runs it
            g_session(in_memory(pf, ok, size=CHUNK), np.arange(n) / 10.0, post, recon.model, g)
        t["session pass"] = time.process_time() - c4
        for k, v in t.items():
            times[k].append(1e3 * v / n)
    print(f"{args.results.name}: {n} frames, blocks of {args.batch}, {args.repeats} repeats (CPU ms/frame, median)")
    for k, v in times.items():
        print(f"  {k:22s} {np.median(v):.3f}  (min {np.min(v):.3f}, max {np.max(v):.3f})")
    stream = np.median(times['morphable fit']) + np.median(times['G'])
    print(f"  fit + G (streaming)    {stream:.3f}")
    print(f"  fit + G + session pass {stream + np.median(times['session pass']):.3f}")
    if args.torch:
        _torch_times(args, cols, post, pf, ok, g)


def _torch_times(args, cols, post, pf, ok, g) -> None:
    """Wall ms per frame of the numpy and torch fit + G, streaming blocks and the session pass."""
    import torch
    from threadpoolctl import threadpool_limits

    from facelens.core.affect.g_session import g_session, in_memory, make_runner
    from facelens.core.analysis.recon_stage import ReconStage
    from facelens.core.analysis.session_pass import CHUNK

    n = len(cols["quality"])
    sync = torch.cuda.synchronize if args.torch.startswith("cuda") else (lambda: None)
    rows: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.repeats):
        for name, dev in (("numpy", None), (f"torch {args.torch}", args.torch)):
            recon, runner = ReconStage(device=dev), make_runner(g, device=dev)
            t0 = time.perf_counter()
            for s in range(0, n, args.batch):
                sl = slice(s, min(s + args.batch, n))
                fit = recon.columns({k: v[sl] for k, v in cols.items()})
                runner.step(np.concatenate([fit["coef_exp"], post[sl]], axis=1), np.isfinite(fit["coef_exp"][:, 0]))
            sync()
            t1 = time.perf_counter()
            with threadpool_limits(1, "blas"):
                g_session(in_memory(pf, ok, size=CHUNK), np.arange(n) / 10.0, post, recon.model, g, device=dev)
            sync()
            t2 = time.perf_counter()
            r = rows.setdefault(name, {"streaming": [], "session pass": []})
            r["streaming"].append(1e3 * (t1 - t0) / n)
            r["session pass"].append(1e3 * (t2 - t1) / n)
    print(f"wall ms/frame, fit + G (median of {args.repeats}; the first torch call includes its start-up)")
    base = {k: np.median(v) for k, v in rows["numpy"].items()}
    for name, r in rows.items():
        print("  " + name.ljust(14) + "  ".join(f"{k} {np.median(v):.3f} ({np.median(v) / base[k]:.2f}x)"
                                           for k, v in r.items()))


if __name__ == "__main__":
    main()
