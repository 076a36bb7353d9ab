"""Top-emotion accuracy: FER2013 alone vs the fused estimator, per class, on posed material.

Usage: ``python benchmarks/affect_eval.py [--media DIR] [--out DIR]``

Each recording whose MANIFEST.tsv describes the shown expression over time spans is analysed at
10 fps with fusion switched off (the results store the raw FER2013 posterior); the fused posterior
is recomputed from the stored expression measures exactly as the stage does live
(``facelens.core.affect.evaluation``). The SYNTHETIC demo session (scripted spans, ramps of 0.8 s
left out) is scored separately: it is the only material the fusion weights were chosen on.
Labels of the real clips are loose visual descriptions, not dataset annotations.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path


def main() -> None:
    from facelens.core.affect.evaluation import DEMO_CLASSES, MANIFEST_SPANS, Tally, score_spans
    from facelens.core.affect.stage import AffectStage
    from facelens.core.demo.session import build_demo, read_script
    from facelens.core.analysis.pipeline import analyze_to_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "media")
    ap.add_argument("--out", type=Path, default=None, help="keep the analyses here (default: temporary)")
    args = ap.parse_args()
    AffectStage.fuse_default = False  # store the raw FER2013 posterior
    tally = Tally()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        done: dict[str, Path] = {}
        for rel, t0, t1, accepted in MANIFEST_SPANS:
            if rel not in done:
                done[rel] = analyze_to_file(args.media / rel, out / (Path(rel).stem + ".h5"), fps=10.0)
            score_spans(tally, "real:" + Path(rel).stem, done[rel], [(t0, t1, accepted, "/".join(sorted(accepted)))])
        demo = build_demo(out / "demo")
        spans = []
        for sp in read_script(demo.script):
            c = DEMO_CLASSES[sp.expression]
            a, b = sp.plateau(demo.ramp_s)
            spans.append((a, b, frozenset({c}), c))
        assert demo.results is not None
        score_spans(tally, "demo", demo.results, spans)
    print(f"{'source':36s} {'accepted':16s} {'n':>4s} {'FER2013':>8s} {'fused':>6s}")
    for name, label, n, f, g in tally.rows:
        print(f"{name:36s} {label:16s} {n:4d} {f / max(n, 1):8.2f} {g / max(n, 1):6.2f}")
    for pre, title in (("real", "real posed clips"), ("demo", "SYNTHETIC demo")):
        n, f, g = tally.totals(pre)
        print(f"{title}: FER2013 {f}/{n} = {f / max(n, 1):.2f}, fused {g}/{n} = {g / max(n, 1):.2f}")
        for label, (n, f, g) in tally.per_class(pre).items():
            print(f"  {label:16s} n={n:4d}  FER2013 {f / max(n, 1):.2f}  fused {g / max(n, 1):.2f}")


if __name__ == "__main__":
    main()
