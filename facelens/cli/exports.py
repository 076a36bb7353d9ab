"""``facelens export-mesh`` and ``facelens segments import|export``.

export-mesh  RESULT.h5 -o OUT.obj|OUT.ply (--frame I | --time T) | -o FOLDER --range A:B [--step K]
segments     import FILE.eaf|FILE.csv -o SEGMENTS.csv [--tier NAME] | export SEGMENTS.csv -o FILE.eaf|FILE.csv

Exit codes: 0 written, 2 unusable input, position or output location, 3 no face in the frame(s).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from facelens.cli import CommandError, UsageError
from facelens.cli._common import check_output_dir, check_output_file, refuse_same_file, usage_from_os_error

#: Exit code when the requested frame(s) hold no face.
EXIT_NO_FACE = 3


def register(sub: Any) -> None:
    m = sub.add_parser("export-mesh", help="pose-free face mesh of a frame (or a range) as OBJ/PLY",
                       description="Write the mesh with the head pose removed (template units, cm; 852 "
                                   "triangles; vertex k = landmark k).")
    m.add_argument("results", help="results file (.h5)")
    m.add_argument("-o", "--output", required=True, help="OUT.obj / OUT.ply, or a folder with --range")
    g = m.add_mutually_exclusive_group(required=True)
    g.add_argument("--frame", type=int, help="sampled frame index (0 = first)")
    g.add_argument("--time", type=float, help="time in seconds (nearest sampled frame)")
    g.add_argument("--range", help="frames A:B (B excluded), one file per frame")
    m.add_argument("--step", type=int, default=1, help="with --range: every STEP-th frame")
    m.add_argument("--format", choices=["obj", "ply"], default=None, help="default: from the suffix (obj for a folder)")
    m.set_defaults(func=cmd_export_mesh)

    s = sub.add_parser("segments", help="import/export segments from/to ELAN (.eaf) or BORIS (CSV)")
    ss = s.add_subparsers(dest="segments_command", metavar="ACTION")
    s.set_defaults(func=lambda a: s.print_help())
    i = ss.add_parser("import", help="ELAN .eaf or BORIS CSV/TSV -> FaceLens segments CSV")
    i.add_argument("source")
    i.add_argument("-o", "--output", required=True, help="segments CSV to write")
    i.add_argument("--format", choices=["elan", "boris"], default=None, help="default: .eaf is elan, else boris")
    i.add_argument("--tier", action="append", help="ELAN tier(s) to read (default: FaceLens tiers or all root tiers)")
    i.set_defaults(func=cmd_segments_import)
    e = ss.add_parser("export", help="FaceLens segments CSV -> ELAN .eaf or BORIS CSV")
    e.add_argument("segments")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--format", choices=["elan", "boris"], default=None, help="default: .eaf is elan, else boris")
    e.add_argument("--media", default=None, help="session video to link in the file")
    e.set_defaults(func=cmd_segments_export)


# -- export-mesh ---------------------------------------------------------------------------------
def _frame_range(spec: str, step: int, n_frames: int) -> range:
    """``A:B`` -> the frames, all inside the session (a range past the end is an error, not a no-op)."""
    a, sep, b = spec.partition(":")
    try:
        start = int(a) if a else 0
        stop = int(b) if b else n_frames
    except ValueError:
        raise UsageError(f"--range must be A:B with frame numbers, not {spec!r}") from None
    if not sep or step < 1 or not 0 <= start < stop:
        raise UsageError("--range must be A:B with 0 <= A < B, and --step positive")
    if start >= n_frames:
        raise UsageError(f"--range {spec}: the session has frames 0..{n_frames - 1}")
    return range(start, min(stop, n_frames), step)


def _single_frame(res: Any, args: argparse.Namespace) -> int:
    """The frame of ``--frame`` or ``--time``, refusing positions outside the session."""
    n = int(res.n_frames)
    if n == 0:
        raise UsageError(f"{args.results} has no frames")
    if args.frame is not None:
        if not 0 <= args.frame < n:
            raise UsageError(f"--frame {args.frame}: the session has frames 0..{n - 1}")
        return int(args.frame)
    t_last = float(res.time_s[-1])
    step = float(res.time_s[1] - res.time_s[0]) if n > 1 else 0.1
    if not math.isfinite(args.time) or not 0.0 <= args.time <= t_last + step:
        raise UsageError(f"--time {args.time:g}: the session's sampled frames run from 0 to {t_last:.2f} s")
    return int(res.frame_at_time(args.time))


def cmd_export_mesh(args: argparse.Namespace) -> int:
    from facelens.core.exports import ExportError, export_mesh, export_mesh_range
    from facelens.core.results import ResultsError, SessionResults

    refuse_same_file(args.results, args.output)
    try:
        res = SessionResults.open(args.results)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None
    try:
        with res:
            if args.range is not None:
                frames = _frame_range(args.range, args.step, int(res.n_frames))
                check_output_dir(args.output, "-o")
                written, skipped = export_mesh_range(res, frames, args.output, fmt=args.format or "obj",
                                                     stem=Path(args.results).stem)
                if not written:
                    raise CommandError(f"no frame in {args.range} has a face; nothing written", EXIT_NO_FACE)
                print(f"wrote {len(written)} mesh file(s) to {args.output}"
                      + (f"; {len(skipped)} frame(s) without a face skipped" if skipped else ""))
                return 0
            frame = _single_frame(res, args)
            check_output_file(args.output, "-o")
            path = export_mesh(res, frame, args.output, args.format)
            print(f"wrote {path} (frame {frame}, t={float(res.time_s[frame]):.3f} s)")
    except ExportError as exc:
        code = EXIT_NO_FACE if "no face" in str(exc) else 2
        raise CommandError(str(exc), code) from None
    except OSError as exc:
        raise usage_from_os_error(exc) from None
    return 0


# -- segments import / export -------------------------------------------------------------------
def _fmt_of(path: str, fmt: str | None) -> str:
    return fmt or ("elan" if path.lower().endswith(".eaf") else "boris")


def cmd_segments_import(args: argparse.Namespace) -> int:
    from facelens.core.exports import ExportError, read_boris_csv, read_eaf
    from facelens.core.annotation.segments import write_segments_csv

    refuse_same_file(args.source, args.output)
    try:
        if _fmt_of(args.source, args.format) == "elan":
            segs = read_eaf(args.source, tier=args.tier)
        else:
            segs = read_boris_csv(args.source)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    if not segs:
        raise UsageError(f"{args.source}: no time-aligned annotations found")
    check_output_file(args.output, "-o")
    try:
        write_segments_csv(segs, args.output)
    except OSError as exc:
        raise usage_from_os_error(exc) from None
    print(f"wrote {args.output} ({len(segs)} segments)")
    return 0


def cmd_segments_export(args: argparse.Namespace) -> int:
    from facelens.core.exports import ExportError, write_boris_csv, write_eaf
    from facelens.core.annotation.segments import SegmentError, read_segments_csv

    refuse_same_file(args.segments, args.output)
    try:
        segs = read_segments_csv(args.segments)
    except SegmentError as exc:
        raise UsageError(str(exc)) from None
    check_output_file(args.output, "-o")
    try:
        if _fmt_of(args.output, args.format) == "elan":
            write_eaf(segs, args.output, media=args.media)
        else:
            write_boris_csv(segs, args.output, media=args.media or "")
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise usage_from_os_error(exc) from None
    print(f"wrote {args.output} ({len(segs)} segments)")
    return 0
