"""``facelens analyze``, ``facelens info`` and ``facelens export``.

analyze  INPUT -o RESULT.h5 [--fps 10] [--device auto|cpu|cuda] [--backend mediapipe|torch] [--workers N]
         [--resume]
info     RESULT.h5
export   RESULT.h5 --csv OUT.csv [--parquet OUT.parquet] [--landmarks]

Exit codes: 0 done (some frames may have no face), 2 unusable input or options, 3 no face in any
frame (the results file is still written), 130 interrupted (a resumable ``.partial`` stays).
Columns of ``export`` are documented in ``docs/results-columns.md``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from facelens.cli import CommandError, UsageError
from facelens.core.affect.choice import DEFAULT_ESTIMATOR, ESTIMATORS
from facelens.core.common.devices import DEVICE_CHOICES

EXIT_NO_FACE = 3


def register(sub: Any) -> None:
    p = sub.add_parser("analyze", help="analyse a recorded session (video or image) into a results file",
                       description="Track the face, measure head pose and expressions, estimate emotions "
                                   "and valence/arousal at FPS sampled frames per second.")
    p.add_argument("input", help="video (mp4, mov, mkv, ...) or still image")
    p.add_argument("-o", "--output", required=True, help="results file to write (.h5)")
    p.add_argument("--fps", type=float, default=10.0, help="sampled frames per second (default 10)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES,
                   help="where the neural networks run (auto: CUDA when available)")
    p.add_argument("--backend", default="mediapipe", choices=["mediapipe", "torch"],
                   help="face tracker: mediapipe (CPU, default) or the same models in torch (batched, GPU)")
    p.add_argument("--workers", type=_workers, default=None, metavar="N",
                   help="mediapipe backend: threads tracking 30-s chunks side by side (default: auto = one per "
                        "core, at most 2; 1 = sequential); the results do not depend on it")
    p.add_argument("--va", default=DEFAULT_ESTIMATOR, choices=list(ESTIMATORS),
                   help="valence/arousal/emotion estimator: g (the temporal regressor over the morphable model's "
                        "coefficients and the FER2013 posterior, default; docs/morphable.md) or circumplex "
                        "(FER2013 fused with the geometric measures on word-norm coordinates); docs/validity.md compares them")
    p.add_argument("--reconstruction", default="fit", metavar="fit|asmv2l[:CHECKPOINT]",
                   help="per-frame morphable-model coefficients: the closed-form fit (default) or the AsmV2L "
                        "network (the shipped weights, or a CHECKPOINT file; batched, CUDA when present; docs/asmv2l.md)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted analysis (RESULT.h5.partial)")
    p.add_argument("--force", action="store_true",
                   help="replace an existing OUTPUT even if it is not a FaceLens results file")
    p.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    p.add_argument("--restart-every", type=int, default=300, help=argparse.SUPPRESS)  # tests: short chunks
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("info", help="summarise a results file")
    p.add_argument("results", help="results file (.h5)")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("export", help="export per-frame results to CSV and/or Parquet")
    p.add_argument("results", help="results file (.h5)")
    p.add_argument("--csv", help="CSV file to write")
    p.add_argument("--parquet", help="Parquet file to write")
    p.add_argument("--landmarks", action="store_true", help="add the 478 mesh points (x_0..x_477, y_..., z_...)")
    p.set_defaults(func=cmd_export)


# -- analyze -------------------------------------------------------------------------------------
def cmd_analyze(args: argparse.Namespace) -> int:
    from facelens.cli._common import check_output_file, refuse_same_file, require_models
    from facelens.core.common.atomic import make_private_dirs
    from facelens.core.registry import ModelError
    from facelens.core.analysis.pipeline import AnalysisCancelled, PipelineError, run_analysis
    from facelens.core.results import ResultsError, SessionResults, partial_path
    from facelens.core.media.video import VideoError

    out = Path(args.output)
    if out.is_dir():
        raise UsageError(f"output {out} is a folder; give a file name such as {out / 'session.h5'}")
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise UsageError(f"results files are HDF5: give an output name ending in .h5 (not {out.name})")
    refuse_same_file(args.input, out)
    if out.parent.is_dir():  # an unwritable folder (read-only, full, not ours): exit 2 before any work
        check_output_file(out, "-o")
    if out.exists() and not args.force:
        try:
            SessionResults.open(out).close()
        except ResultsError:
            raise UsageError(f"{out} exists and is not a complete FaceLens results file; "
                             "choose another name or add --force to replace it") from None
    if args.fps <= 0:
        raise UsageError("--fps must be positive")
    require_models()  # missing or corrupted weights: exit 2 before the video is opened or a model starts
    if args.resume and not partial_path(out).exists():
        print(f"facelens: nothing to resume ({partial_path(out).name} not found); starting from the beginning",
              file=sys.stderr)
    make_private_dirs(out.parent)
    bar = None
    try:
        for progress in run_analysis(args.input, out, fps=args.fps, device=args.device, backend=args.backend,
                                     resume=args.resume, batch_size=args.batch_size, workers=args.workers,
                                     restart_every=args.restart_every, va=args.va,
                                     reconstruction=args.reconstruction):
            if bar is None:
                bar = _progress_bar(progress.total, progress.done)
            bar.total = max(bar.total or 0, progress.total)
            bar.update(progress.done - bar.n)
    except (VideoError, PipelineError, ResultsError) as exc:
        raise UsageError(str(exc)) from None
    except ModelError as exc:
        raise CommandError(str(exc), 1) from None
    except (KeyboardInterrupt, AnalysisCancelled):
        if bar is not None:
            bar.close()
        raise CommandError(f"interrupted; finished frames are kept in {partial_path(out)} - resume with: "
                           f"facelens analyze {args.input} -o {out} --resume", 130) from None
    finally:
        if bar is not None:
            bar.close()
    with SessionResults.open(out) as res:
        n, usable, faces = res.n_frames, int(res.usable.sum()), int((res.n_faces > 0).sum())
    print(f"wrote {out}: {n} frames, {usable} usable ({100.0 * usable / max(n, 1):.0f} %)")
    if faces == 0:
        print(f"facelens: no face found in any of the {n} frames (results written to {out})", file=sys.stderr)
        return EXIT_NO_FACE
    return 0


def _workers(text: str) -> int | None:
    """``--workers``: a positive integer or ``auto``."""
    if text.strip().lower() == "auto":
        return None
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or auto, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or auto, got {text!r}")
    return n


def _progress_bar(total: int, initial: int) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="frame", file=sys.stderr, dynamic_ncols=True,
                desc="analysing", bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                                             "[{elapsed}<{remaining}, {rate_fmt}]")


# -- info ----------------------------------------------------------------------------------------
def _open(path: str) -> Any:
    from facelens.core.results import ResultsError, SessionResults

    try:
        return SessionResults.open(path)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None


def cmd_info(args: argparse.Namespace) -> int:
    with _open(args.results) as r:
        n, usable = r.n_frames, int(r.usable.sum())
        p = r.params
        lines = [f"results      {r.path}" + ("  [synthetic demo session]" if r.is_demo else ""),
                 f"video        {r.meta.get('video_path', '?')}",
                 f"sha256       {r.video_sha256}",
                 f"duration     {r.duration_s:.2f} s, {r.width}x{r.height}, {r.native_fps:.3f} fps native",
                 f"analysed     {n} frames at {p.get('fps', '?')} fps "
                 f"(backend {p.get('backend', '?')}, device {p.get('device', '?')}), "
                 f"facelens {r.meta.get('facelens_version', '?')}",
                 f"usable       {usable} ({100.0 * usable / max(n, 1):.1f} %)"]
        discards = {k: v for k, v in r.discard_counts().items() if v}
        lines.append("discarded    " + (", ".join(f"{k}: {v}" for k, v in discards.items()) or "none"))
        if usable:
            yaw, pitch, roll = np.nanmean(r.euler[r.usable], axis=0)
            lines.append(f"mean pose    yaw {yaw:+.1f}°, pitch {pitch:+.1f}°, roll {roll:+.1f}° (usable frames)")
            v, a = np.nanmean(r.valence[r.usable]), np.nanmean(r.arousal[r.usable])
            if np.isfinite(v):
                lines.append(f"mean VA      valence {v:+.2f}, arousal {a:+.2f}")
        lines.append("models")
        for m in r.models:
            lines.append(f"  - {m.get('id', '?')} {m.get('version', '')}".rstrip())
    print("\n".join(lines))
    return 0


# -- export --------------------------------------------------------------------------------------
def cmd_export(args: argparse.Namespace) -> int:
    from facelens.core.results.export_table import export_chunks

    from facelens.cli._common import check_output_file, refuse_same_file, usage_from_os_error
    from facelens.core.common.atomic import atomic_path

    if not args.csv and not args.parquet:
        raise UsageError("export needs --csv OUT.csv and/or --parquet OUT.parquet")
    written = []
    for flag, target in (("--csv", args.csv), ("--parquet", args.parquet)):
        if target:
            refuse_same_file(args.results, target)
            check_output_file(target, flag)
    with _open(args.results) as r:
        try:
            # Each file appears under its name only when complete (temporary file + rename).
            if args.csv:
                with atomic_path(args.csv) as tmp:
                    for k, df in enumerate(export_chunks(r, args.landmarks)):
                        df.to_csv(tmp, mode="w" if k == 0 else "a", header=(k == 0), index=False)
                written.append(args.csv)
            if args.parquet:
                import pyarrow as pa
                import pyarrow.parquet as pq

                with atomic_path(args.parquet) as tmp:
                    writer = None
                    for df in export_chunks(r, args.landmarks):
                        table = pa.Table.from_pandas(df, preserve_index=False)
                        writer = writer or pq.ParquetWriter(tmp, table.schema)
                        writer.write_table(table)
                    if writer is not None:
                        writer.close()
                written.append(args.parquet)
        except OSError as exc:
            raise usage_from_os_error(exc) from None
        n = r.n_frames
    for final in written:
        print(f"wrote {final} ({n} rows)")
    return 0
