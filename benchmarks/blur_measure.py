"""The blur measure and its threshold: what it flags on sharp, streaked and re-exposed faces.

Usage: ``python benchmarks/blur_measure.py --media MEDIA --corpus CORPUS [--per-clip 25]``

CORPUS is a ``facelens batch`` output of the corpus clips (its ``sessions/*.h5`` give the face
boxes). Only the corpus clips without labelled spans are used (``validation.clips``: the harness
reports the labelled ones, so they choose nothing). From each, ``--per-clip`` frames with a face
are taken evenly; each is measured as it is, with a synthetic motion streak (a line kernel of 5 /
10 / 15 % of the face width: horizontal, and at 10 % also vertical and diagonal) and with the
harness's exposure changes (gain, gamma, light gradients). Printed for the shipped measure
(:func:`facelens.core.face.tracking.quality.blur_measure` at its threshold) and, as the baseline
in the same run, the earlier one (the plain variance of the Laplacian of the same 128-px grey
crop, threshold 25): the share of frames each flags, the sharp frames' percentiles, and the 95th
percentile of |log(measure after / before)| under each exposure change, and the CPU time per
call of each measure (best of 3 passes over the sharp frames, alternating). When CORPUS was analysed
with the shipped measure, its stored values of every analysed frame of these clips say how many
frames the threshold flags at the full sampling rate (the rule that set it: none).
"""
from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

EARLIER_THRESHOLD = 25.0


def earlier_measure(rgb: np.ndarray, bbox: np.ndarray, size: int) -> float:
    """The measure before this round: variance of the Laplacian of the grey crop resized to ``size``."""
    import cv2

    from facelens.core.face.tracking.quality import _crop

    small = cv2.resize(_crop(rgb, bbox), (size, size), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def streak(frac: float, angle_deg: float = 0.0) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """A line kernel of ``frac`` of the face width at ``angle_deg`` (0: horizontal)."""
    import cv2

    def fn(rgb: np.ndarray, bbox: np.ndarray) -> np.ndarray:
        n = max(3, int(round(frac * (bbox[2] - bbox[0]))))
        k = np.zeros((n, n), np.float32)
        k[n // 2, :] = 1.0
        if angle_deg:
            k = cv2.warpAffine(k, cv2.getRotationMatrix2D(((n - 1) / 2, (n - 1) / 2), angle_deg, 1.0), (n, n))
        return cv2.filter2D(rgb, -1, k / k.sum())

    return fn


def sample(media: Path, corpus: Path, per_clip: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(clip, RGB frame, face box) for ``per_clip`` frames of each unlabelled corpus clip."""
    import cv2

    from facelens.core.results import SessionResults
    from facelens.core.validation.clips import CORPUS

    out = []
    for spec in (c for c in CORPUS if not c.spans):
        path = corpus / "sessions" / f"{spec.name}.h5"
        if not path.is_file():
            print(f"  {spec.name}: no results file in {corpus}, skipped")
            continue
        with SessionResults.open(path) as r:
            boxes, index = np.asarray(r.bbox[:], float), np.asarray(r.frame_index[:])
        ok = np.flatnonzero(np.all(np.isfinite(boxes), axis=1))
        cap = cv2.VideoCapture(str(media / spec.rel))
        for i in ok[np.linspace(0, len(ok) - 1, min(per_clip, len(ok))).astype(int)]:
            cap.set(cv2.CAP_PROP_POS_FRAMES, int(index[i]))
            got, bgr = cap.read()
            if got:
                out.append((spec.name, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), boxes[i]))
        cap.release()
    return out


def every_frame(corpus: Path, threshold: float) -> None:
    """Lowest stored measure and frames below ``threshold`` over every analysed frame of the clips."""
    from facelens.core.face.tracking import BLUR_MEASURE, recorded_gates
    from facelens.core.results import SessionResults
    from facelens.core.validation.clips import CORPUS

    values = []
    for spec in (c for c in CORPUS if not c.spans):
        path = corpus / "sessions" / f"{spec.name}.h5"
        if not path.is_file():
            continue
        with SessionResults.open(path) as r:
            if recorded_gates(r.params)["blur_measure"] != BLUR_MEASURE:
                print(f"\n{corpus} was analysed with another blur measure: every-frame figures skipped")
                return
            b = np.asarray(r.blur[:], float)
        values.append(b[np.isfinite(b)])
    if values:
        v = np.concatenate(values)
        print(f"\nevery analysed frame with a face of these clips: {len(v)}, lowest {v.min():.3g}, median "
              f"{np.median(v):.3g}; below the threshold {threshold:g}: {int((v < threshold).sum())}")


def main(argv: list[str] | None = None) -> int:
    from facelens.core.face.tracking.quality import DEFAULT_BLUR_SIZE, DEFAULT_BLUR_THRESHOLD, blur_measure
    from facelens.core.validation import perturb

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--corpus", type=Path, required=True, help="facelens batch output of the corpus clips")
    ap.add_argument("--per-clip", type=int, default=25)
    a = ap.parse_args(argv)
    frames = sample(a.media, a.corpus, a.per_clip)
    if not frames:
        print("no frames: check --media and --corpus")
        return 2
    blurs: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
        "streak 5 % h": streak(0.05), "streak 10 % h": streak(0.10), "streak 15 % h": streak(0.15),
        "streak 10 % v": streak(0.10, 90), "streak 10 % diag": streak(0.10, 45)}
    exposure = {"gain 0.7": perturb.gain(0.7), "gamma 0.7": perturb.gamma(0.7), "gamma 1.4": perturb.gamma(1.4),
                "light from left": perturb.gradient("left"), "light from top": perturb.gradient("top")}
    measures = {"shipped": (blur_measure, DEFAULT_BLUR_THRESHOLD), "earlier": (earlier_measure, EARLIER_THRESHOLD)}
    values: dict[str, dict[str, list[float]]] = {m: {} for m in measures}
    for _, rgb, box in frames:
        images = {"sharp": rgb, **{k: f(rgb, box) for k, f in blurs.items()}, **{k: f(rgb) for k, f in exposure.items()}}
        for m, (fn, _) in measures.items():
            for k, img in images.items():
                values[m].setdefault(k, []).append(fn(img, box, DEFAULT_BLUR_SIZE))
    print(f"{len(frames)} frames of {len({c for c, _, _ in frames})} unlabelled corpus clips")
    print("| measure | threshold | sharp p0.5 / median | " + " | ".join(["sharp", *blurs, *exposure]) + " |")
    print("|---" * (3 + 1 + len(blurs) + len(exposure)) + "|")
    for m, (_, thr) in measures.items():
        v = {k: np.asarray(x) for k, x in values[m].items()}
        shares = [f"{100 * np.mean(v[k] < thr):.1f} %" for k in ["sharp", *blurs, *exposure]]
        print(f"| {m} | {thr:g} | {np.percentile(v['sharp'], 0.5):.3g} / {np.median(v['sharp']):.3g} | "
              + " | ".join(shares) + " |")
    print("\n95th percentile of |log(measure after / before)| under the exposure changes")
    for m in measures:
        v = {k: np.asarray(x) for k, x in values[m].items()}
        print(f"  {m}: " + ", ".join(f"{k} {np.percentile(np.abs(np.log(v[k] / v['sharp'])), 95):.3f}"
                                    for k in exposure))
    every_frame(a.corpus, DEFAULT_BLUR_THRESHOLD)
    cost: dict[str, list[float]] = {m: [] for m in measures}
    for _ in range(3):
        for m, (fn, _) in measures.items():
            t0 = time.process_time()
            for _, rgb, box in frames:
                fn(rgb, box, DEFAULT_BLUR_SIZE)
            cost[m].append((time.process_time() - t0) / len(frames) * 1e3)
    print("\nCPU ms per call (best of 3): " + ", ".join(f"{m} {min(c):.3f}" for m, c in cost.items())
          + f"; ratio {min(cost['shipped']) / min(cost['earlier']):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
