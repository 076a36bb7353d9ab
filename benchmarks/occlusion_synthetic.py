"""Occlusion tests against synthetic, labelled occlusions of the development corpus clips.

The shared media hold one development clip with a labelled hand occlusion (styletalk_nice_clip1),
too little to choose an occlusion test by. This benchmark makes labelled occlusions: on each
development clip (the 20 corpus clips without labelled spans, which the validity harness's
reliability figures do not use) an occluder covers part of
the lower face for 1 s in every 3 s. The occluder is an ellipse of the person's own skin (a patch
of the forehead of the same frame, lightly shaded, with a soft edge), like a hand over the mouth
or chin. Its size and place are drawn once per span (seeded) and follow the face, placed from the
clean run's tracked mesh.

Each clip is tracked twice with the occlusion test on every frame, clean and occluded. Three
disagreements are recorded per frame, from the three meshes of one check: the tracked mesh (T),
the landmark model on the check's own face region (O) and on the same region mirrored (F, mapped
back):

* ``|T-F|``, the shipped test's ``D``;
* ``|O-F|``, both meshes from the check's region (``D_pair`` in docs/validity.md);
* ``|T-O|``, how far the tracked mesh sits from the model's answer on the check's region.

Reported per measure: the AUC between the occluded frames (occluded run, inside the spans) and
the clean run's frames, and the share flagged at a threshold that flags 10 % of the clean frames
(about the shipped test's share on these clips).

With ``--va``, both versions of every clip also go through the harness's stages as the product
runs them (:func:`facelens.core.validation.runner.track_clip`: the shipped schedule and gates,
the FER2013 posterior) and the default estimator G. That part reports how many occluded frames
the gates keep, and how far G's valence/arousal on those kept frames lies from the clean run's on
the same frames, against the same distance on the frames outside the spans. A clean frame's
reading also moves a little when an earlier occluded span changes G's state.

Usage::

    python benchmarks/occlusion_synthetic.py --media ../shared/media [--va] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPAN_EVERY_S, SPAN_LEN_S, SPAN_START_S = 3.0, 1.0, 1.0
CLEAN_SHARE = 0.10  # threshold: the value that flags this share of the clean frames
MEASURES = ("|T-F| (shipped D)", "|O-F| (D_pair)", "|T-O|")


def _occluded(t: float) -> bool:
    return t >= SPAN_START_S and (t - SPAN_START_S) % SPAN_EVERY_S < SPAN_LEN_S


def _span_id(t: float) -> int:
    return int((t - SPAN_START_S) // SPAN_EVERY_S)


def occlude(rgb: np.ndarray, mesh: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rgb`` with a skin-coloured ellipse over part of the lower face of ``mesh`` (pixels).
    ``rng`` gives this span's size and place (the same draws for every frame of the span)."""
    import cv2

    size, place, tilt, shade = rng.uniform(0.35, 0.6), rng.uniform(-0.35, 0.35), rng.uniform(-30, 30), \
        rng.uniform(0.85, 1.1)
    lo, hi = mesh[:, :2].min(axis=0), mesh[:, :2].max(axis=0)
    w, h = hi - lo
    mouth = mesh[[13, 14, 61, 291], :2].mean(axis=0)  # lip centre and mouth corners
    centre = mouth + np.array([place * w, rng.uniform(0.0, 0.15) * h])
    axes = (max(2, int(size * w / 2)), max(2, int(size * w / 2.6)))
    forehead = mesh[[10, 151, 9, 108, 337], :2].mean(axis=0)
    half = max(3, int(0.08 * w))
    fx, fy = int(forehead[0]), int(forehead[1])
    patch = rgb[max(fy - half, 0):fy + half, max(fx - half, 0):fx + half]
    if patch.size == 0:
        return rgb
    sigma = max(1.0, 0.02 * w)
    r = int(max(axes) + 3 * sigma) + 1  # the texture covers the ellipse at any tilt, and its soft edge
    tex = cv2.resize(patch, (2 * r, 2 * r), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    tex *= shade * np.linspace(0.9, 1.1, tex.shape[1], dtype=np.float32)[None, :, None]  # a shaded, rounded surface
    mask = np.zeros(rgb.shape[:2], np.float32)
    cv2.ellipse(mask, (int(centre[0]), int(centre[1])), axes, tilt, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    layer = np.zeros(rgb.shape, np.float32)
    x0, y0 = int(centre[0]) - r, int(centre[1]) - r
    ys = slice(max(y0, 0), min(y0 + 2 * r, rgb.shape[0]))
    xs = slice(max(x0, 0), min(x0 + 2 * r, rgb.shape[1]))
    layer[ys, xs] = tex[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0]
    inside = np.zeros(rgb.shape[:2], np.float32)
    inside[ys, xs] = 1.0
    mask *= inside
    out = rgb.astype(np.float32) * (1 - mask[..., None]) + layer * mask[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


class Recorder:
    """Every-frame FaceTracker whose occlusion check also records the three disagreements."""

    def __init__(self) -> None:
        from facelens.core.face.tracking import FaceTracker

        self.tracker = FaceTracker(occlusion_every=1, count_every=1)
        assert self.tracker.check is not None
        self.check = self.tracker.check
        self.last: tuple[float, float, float] = (np.nan, np.nan, np.nan)
        self.check.disagreement = self._disagreement  # type: ignore[method-assign]

    def _disagreement(self, rgb: np.ndarray, mesh: np.ndarray, bbox: np.ndarray) -> float:
        import cv2

        from facelens.core.face.geometry import posefree_fit
        from facelens.core.face.tracking.adapter import landmarks_px
        from facelens.core.face.tracking.quality import context_crop, face_region, lower_face

        self.last = (np.nan, np.nan, np.nan)
        x0, y0, view = context_crop(rgb, bbox)
        if view is None:
            return float("nan")
        crop = np.ascontiguousarray(view)
        mine = mesh - np.array([x0, y0, 0.0])
        other = self.check._by_region(cv2.flip(crop, 1), mine)
        found = self.check.graph.run({"image": crop, "roi": face_region(mine, crop.shape[1], crop.shape[0])},
                                     "face_landmarks")
        if other is None or not found:
            return float("nan")
        own = landmarks_px(found[0], crop.shape[1], crop.shape[0])
        lf = lower_face()
        t, o, f = (posefree_fit(x)[lf] for x in (mine, own, other))

        def rms(a: np.ndarray, b: np.ndarray) -> float:
            return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))

        self.last = (rms(t, f), rms(o, f), rms(t, o))
        return self.last[0]

    def run(self, frames: list[np.ndarray]) -> tuple[list[Any], np.ndarray]:
        obs, rec = [], []
        try:
            for f in frames:
                self.last = (np.nan, np.nan, np.nan)
                obs.append(self.tracker.process(f))
                rec.append(self.last)
        finally:
            self.tracker.close()
        return obs, np.array(rec, np.float64)


def dev_clips(media: Path) -> list[Path]:
    from facelens.core.validation import clips as clipset

    # the corpus clips without labelled spans: the harness's reliability figures use the others
    return [media / s.rel for s in clipset.CORPUS if not s.spans and (media / s.rel).is_file()]


def auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive scores above a negative), ties counted half."""
    from scipy.stats import rankdata

    r = rankdata(np.concatenate([pos, neg]))
    return float((r[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def _va_effect(analyser: Any, estimate: Any, clip: Any, occluded_frames: list[np.ndarray],
               inside: np.ndarray) -> dict[str, Any]:
    """G's valence/arousal of the clean and the occluded version, tracked as the product does."""
    from facelens.core.validation.runner import track_clip

    clean = track_clip(clip.frames, clip.time_s, analyser.model)
    occ = track_clip(occluded_frames, clip.time_s, analyser.model)
    vc, ac, _ = estimate(clean)
    vo, ao, _ = estimate(occ)
    return {"inside": inside, "clean_usable": clean.usable, "occ_usable": occ.usable,
            "dv": np.abs(vo - vc), "da": np.abs(ao - ac)}


def _va_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    cat = {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    both = cat["clean_usable"] & cat["occ_usable"] & np.isfinite(cat["dv"]) & np.isfinite(cat["da"])
    out: dict[str, Any] = {"occluded": int(cat["inside"].sum()), "kept": int((cat["inside"] & cat["occ_usable"]).sum())}
    for part, sel in (("occluded, kept", cat["inside"] & both), ("outside the spans", ~cat["inside"] & both)):
        dv, da = cat["dv"][sel], cat["da"][sel]
        out[part] = {"frames": int(sel.sum()),
                     "dv_median": float(np.median(dv)) if dv.size else float("nan"),
                     "dv_p90": float(np.quantile(dv, 0.9)) if dv.size else float("nan"),
                     "da_median": float(np.median(da)) if da.size else float("nan"),
                     "da_p90": float(np.quantile(da, 0.9)) if da.size else float("nan")}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--media", type=Path, required=True)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--va", action="store_true", help="also run the product's stages and G on both versions")
    args = ap.parse_args()
    from facelens.core.validation.sampling import sample_clip

    t0 = time.perf_counter()
    clean_all, occ_all, per_clip = [], [], {}
    va_rows: list[dict[str, Any]] = []
    analyser = estimate = None
    if args.va:
        from facelens.core.validation import estimators
        from facelens.core.validation.runner import Analyser

        analyser, estimate = Analyser(), estimators.get("g")
    for k, path in enumerate(dev_clips(args.media)):
        clip = sample_clip(path)
        clean_obs, clean = Recorder().run(clip.frames)
        frames = []
        for t, rgb, o in zip(clip.time_s, clip.frames, clean_obs):
            if _occluded(float(t)) and o.landmarks is not None:
                rng = np.random.default_rng([args.seed, k, _span_id(float(t))])
                frames.append(occlude(rgb, o.landmarks.astype(np.float64), rng))
            else:
                frames.append(rgb)
        _, occ = Recorder().run(frames)
        inside = np.array([_occluded(float(t)) and o.landmarks is not None for t, o in zip(clip.time_s, clean_obs)])
        clean_all.append(clean)
        occ_all.append(occ[inside])
        if analyser is not None and estimate is not None:
            va_rows.append(_va_effect(analyser, estimate, clip, frames, inside))
        per_clip[path.stem] = {"frames": len(frames), "occluded": int(inside.sum())}
        print(f"{path.stem}: {len(frames)} frames, {int(inside.sum())} occluded", flush=True)
    clean_d, occ_d = np.concatenate(clean_all), np.concatenate(occ_all)
    # no mesh found in the mirrored or own region: the test reads confidence 0 (flagged)
    clean_d, occ_d = (np.where(np.isfinite(x), x, np.inf) for x in (clean_d, occ_d))
    rows = {}
    print(f"\n{len(clean_d)} clean frames, {len(occ_d)} occluded frames ({time.perf_counter() - t0:.0f} s)")
    print(f"{'measure':22s} {'AUC':>6s} {'threshold':>10s} {'occluded flagged':>17s}")
    for j, name in enumerate(MEASURES):
        thr = float(np.quantile(clean_d[:, j], 1 - CLEAN_SHARE))
        hit = float(np.mean(occ_d[:, j] > thr))
        rows[name] = {"auc": auc(occ_d[:, j], clean_d[:, j]), "threshold_at_10pct_clean": thr, "occluded_flagged": hit}
        print(f"{name:22s} {rows[name]['auc']:6.3f} {thr:10.3f} {100 * hit:16.1f}%")
    va = _va_summary(va_rows) if va_rows else None
    if va:
        print(f"\nthe product's stages and G: of {va['occluded']} occluded frames the gates keep {va['kept']}"
              f" ({100 * va['kept'] / max(va['occluded'], 1):.1f} %)")
        for part in ("occluded, kept", "outside the spans"):
            r = va[part]
            print(f"  {part:18s} frames {r['frames']:5d}  |dV| median {r['dv_median']:.3f} p90 {r['dv_p90']:.3f}"
                  f"  |dA| median {r['da_median']:.3f} p90 {r['da_p90']:.3f}")
    if args.json:
        args.json.write_text(json.dumps({"measures": rows, "clips": per_clip, "seed": args.seed, "va": va}, indent=1))


if __name__ == "__main__":
    main()
