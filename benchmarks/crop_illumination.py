"""How much the FER2013 posterior moves under the harness's photometric variants, with and without the
illumination normalisation of its crops (``facelens/core/affect/illumination.py``).

Usage::

    python benchmarks/crop_illumination.py --media ../shared/media [--dataset DIFFUSIONFER --stills STILLS]
    python benchmarks/crop_illumination.py --media ../shared/media --constants   # the constants, and the choice

Real clips: the labelled clips of the validity harness (first 20 s at 10 fps) are tracked once; each
photometric variant (lighting gradients, gamma, gain, colour casts) is applied to the frames and the
FER2013 posterior recomputed **with the clean clip's face boxes**, so that only the appearance
model's reaction to the light is measured (the harness itself measures the whole pipeline). Per
variant: mean over frames of the L1 change of the posterior, and the share of frames whose top class
is unchanged. Both preprocessing ways run in the same process on the same crops.

DiffusionFER (``--dataset`` with ``--stills``, a ``facelens batch`` output of its images, for the
face boxes): FER2013 top-1 accuracy with either preprocessing.

``--constants``: the development clips are the corpus clips without labelled spans (the harness
reports on the labelled ones; these 20 are never reported). It prints the medians that
``illumination.py`` uses (image statistics of their unperturbed crops, first 10 s at 10 fps) and
the comparison that chose the variant: for each candidate, the posterior's mean L1 change under the
photometric variants, and its mean L1 change from the raw posterior on the clean frames (how much the
normalisation itself alters a real face's reading).
"""
from __future__ import annotations

import argparse
import csv
import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _crops_of_stills(dataset: Path, stills: Path) -> tuple[np.ndarray, np.ndarray]:
    """Grey 64-px crops of the DiffusionFER images with a stored face box, and their FER label index."""
    import cv2
    import h5py

    from facelens.core.affect.crops import gray_face_crop
    from facelens.core.affect.datasets import AFFECTNET_LABELS, read_dataset
    from facelens.core.affect.fer import FER_LABELS

    labels = {s.image.resolve(): AFFECTNET_LABELS[s.label] for s in read_dataset(dataset)}
    crops, ys = [], []
    with open(stills / "cohort.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["status"] != "ok":
                continue
            image = (stills / row["video"]).resolve() if not Path(row["video"]).is_absolute() else Path(row["video"]).resolve()
            with h5py.File(stills / row["results"], "r") as f:
                box = np.asarray(f["frames/bbox"][0], np.float64)
            if image not in labels or not np.all(np.isfinite(box)):
                continue
            rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB)
            crops.append(gray_face_crop(rgb, box, 64))
            lab = {"anger": "angry"}.get(labels[image], labels[image])
            ys.append(FER_LABELS.index(lab) if lab in FER_LABELS else -1)
    return np.stack(crops), np.asarray(ys)


def _tracked_boxes(frames: list[np.ndarray], time_s: np.ndarray) -> np.ndarray:
    from facelens.core.analysis.contract import AnalysisConfig
    from facelens.core.analysis.frame_columns import frame_columns
    from facelens.core.analysis.trackers import make_tracker, track_frames
    from facelens.core.common.types import SampledFrame

    cfg = AnalysisConfig()
    sampled = [SampledFrame(i, i, float(t), rgb) for i, (rgb, t) in enumerate(zip(frames, time_s))]
    obs = [o for _, o in track_frames(sampled, functools.partial(make_tracker, cfg, "cpu", False), cfg.restart_every)]
    return np.asarray(frame_columns(sampled, obs, cfg)["bbox"], np.float64)


def real_clips(media: Path, seconds: float) -> None:
    from facelens.core.affect.crops import gray_face_crop
    from facelens.core.affect.fer import FerEmotionModel
    from facelens.core.affect.illumination import normalise_illumination
    from facelens.core.validation import clips, perturb
    from facelens.core.validation.sampling import sample_clip

    model = FerEmotionModel(device="cpu", normalise_light=False)  # preprocessing applied here, both ways
    ways = {"no illumination normalisation": lambda c: c, "normalised illumination": normalise_illumination}
    variants = [v for v in perturb.variants() if v.family in ("lighting", "exposure", "colour")]
    l1 = {w: {v.name: [] for v in variants} for w in ways}
    same = {w: {v.name: [] for v in variants} for w in ways}
    for spec in clips.available(media, tuple(c for c in clips.ALL if c.spans)):
        clip = sample_clip(media / spec.rel, 10.0, 0.0, seconds, spec.name)
        box = _tracked_boxes(clip.frames, clip.time_s)
        idx = np.flatnonzero(np.all(np.isfinite(box), axis=1))
        if not idx.size:
            continue

        def posterior(frames: list[np.ndarray], way: str) -> np.ndarray:
            crops = np.stack([gray_face_crop(frames[i], box[i], 64) for i in idx])  # noqa: B023
            return model.predict(model.preprocess(ways[way](crops)))

        base = {w: posterior(clip.frames, w) for w in ways}
        for v in variants:
            frames = v.apply(clip.frames)
            for w in ways:
                p = posterior(frames, w)
                l1[w][v.name].append(float(np.abs(p - base[w]).sum(axis=1).mean()))
                same[w][v.name].append(float(np.mean(p.argmax(1) == base[w].argmax(1))))
        print(f"  {spec.name}: {idx.size} frames with a face box", flush=True)
    print("\nmean L1 change of the FER2013 posterior (clean boxes), per variant; last columns: mean, top class kept")
    print("| preprocessing | " + " | ".join(v.name for v in variants) + " | mean | top kept |")
    print("|---" * (len(variants) + 3) + "|")
    for w in ways:
        per = [float(np.mean(l1[w][v.name])) for v in variants]
        kept = float(np.mean([np.mean(same[w][v.name]) for v in variants]))
        print(f"| {w} | " + " | ".join(f"{x:.3f}" for x in per) + f" | {np.mean(per):.3f} | {kept:.3f} |")


def development_clips(media: Path) -> list[Path]:
    """Corpus clips that the harness does not report on (no labelled spans)."""
    from facelens.core.validation import clips

    labelled = {c.rel for c in clips.ALL if c.spans}
    return sorted(p for p in (media / "corpus").glob("*.mp4") if f"corpus/{p.name}" not in labelled)


def _candidate(consts: np.ndarray, sd_mode: str) -> Callable[[np.ndarray], np.ndarray]:
    """The normalisation with given (log mean, log SD, slope x, slope y); ``sd_mode`` 'full', 'none' or 'half'."""
    from facelens.core.affect.illumination import normalise_illumination

    typical = (float(consts[0]), float(consts[1]), float(consts[2]), float(consts[3]))
    pull = {"full": 1.0, "none": 0.0, "half": 0.5}[sd_mode]
    return lambda crops: normalise_illumination(crops, typical, pull)


def constants_and_choice(media: Path, seconds: float = 10.0, dataset_consts: np.ndarray | None = None) -> None:
    from facelens.core.affect.crops import gray_face_crop
    from facelens.core.affect.fer import FerEmotionModel
    from facelens.core.affect.illumination import log_statistics
    from facelens.core.validation import perturb
    from facelens.core.validation.sampling import sample_clip

    data = []
    for path in development_clips(media):
        clip = sample_clip(path, 10.0, 0.0, seconds, path.stem)
        box = _tracked_boxes(clip.frames, clip.time_s)
        idx = np.flatnonzero(np.all(np.isfinite(box), axis=1))
        if idx.size:
            data.append((clip, box, idx))
    crops = [np.stack([gray_face_crop(c.frames[i], b[i], 64) for i in idx]) for c, b, idx in data]
    med = np.median(log_statistics(np.concatenate(crops)), axis=0)
    print(f"{len(data)} development clips, {sum(len(c) for c in crops)} crops: LOG_MEAN {med[0]:.4f}  "
          f"LOG_SD {med[1]:.4f}  TYPICAL_SLOPE ({med[2]:.4f}, {med[3]:.4f})")
    model = FerEmotionModel(device="cpu", normalise_light=False)
    ways: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "raw (fer preprocessing)": lambda c: c, "development constants, log SD standardised": _candidate(med, "full"),
        "development constants, log SD kept": _candidate(med, "none"),
        "development constants, log SD half-way": _candidate(med, "half")}
    if dataset_consts is not None:
        ways["DiffusionFER constants, log SD standardised"] = _candidate(dataset_consts, "full")
    variants = [v for v in perturb.variants() if v.family in ("lighting", "exposure", "colour")]
    photo: dict[str, list[float]] = {w: [] for w in ways}
    alter: dict[str, list[float]] = {w: [] for w in ways}
    for (clip, box, idx), clean in zip(data, crops):
        raw = model.predict(model.preprocess(clean))
        base = {w: model.predict(model.preprocess(f(clean))) for w, f in ways.items()}
        for w in ways:
            alter[w].append(float(np.abs(base[w] - raw).sum(axis=1).mean()))
        for v in variants:
            frames = v.apply(clip.frames)
            moved = np.stack([gray_face_crop(frames[i], box[i], 64) for i in idx])
            for w, f in ways.items():
                photo[w].append(float(np.abs(model.predict(model.preprocess(f(moved))) - base[w]).sum(axis=1).mean()))
    print("\n| candidate | photometric L1 change | clean-frame alteration L1 |\n|---|---|---|")
    for w in ways:
        print(f"| {w} | {np.mean(photo[w]):.3f} | {np.mean(alter[w]):.3f} |")


def stills(dataset: Path, stills_dir: Path, constants: bool) -> np.ndarray | None:
    from facelens.core.affect.fer import FerEmotionModel
    from facelens.core.affect.illumination import log_statistics, normalise_illumination

    crops, y = _crops_of_stills(dataset, stills_dir)
    if constants:
        med = np.median(log_statistics(crops), axis=0)
        print(f"DiffusionFER, {len(crops)} crops: log mean {med[0]:.4f}, log SD {med[1]:.4f}, slope ({med[2]:.4f}, {med[3]:.4f})")
        return med
    model = FerEmotionModel(device="cpu", normalise_light=False)
    ok = y >= 0
    for name, x in (("no illumination normalisation", crops), ("normalised illumination", normalise_illumination(crops))):
        p = model.predict(model.preprocess(x))
        print(f"DiffusionFER FER2013 top-1 ({int(ok.sum())} faces), {name}: {np.mean(p[ok].argmax(1) == y[ok]):.3f}")
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--media", type=Path)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--dataset", type=Path)
    ap.add_argument("--stills", type=Path)
    ap.add_argument("--constants", action="store_true")
    a = ap.parse_args()
    if a.constants:
        dataset_consts = stills(a.dataset, a.stills, True) if a.dataset and a.stills else None
        if a.media:
            constants_and_choice(a.media, dataset_consts=dataset_consts)
        return
    if a.dataset and a.stills:
        stills(a.dataset, a.stills, False)
    if a.media:
        real_clips(a.media, a.seconds)


if __name__ == "__main__":
    main()
