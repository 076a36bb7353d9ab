"""``facelens batch``, ``facelens export-mesh`` and ``facelens segments import|export``.

batch        MANIFEST.csv --out DIR [--workers N] [--scheduler tcp://host:port] [--device auto|cpu|cuda]
export-mesh  RESULT.h5 -o OUT.obj|OUT.ply (--frame I | --time T) | -o FOLDER --range A:B [--step K]
segments     import FILE.eaf|FILE.csv -o SEGMENTS.csv [--tier NAME] | export SEGMENTS.csv -o FILE.eaf|FILE.csv

Exit codes of ``batch``: 0 every session finished, 1 some failed (listed in DIR/failures.csv; the
others' results are complete), 2 unusable manifest or options, 130 interrupted (re-run resumes).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from facelens.cli import CommandError, UsageError

_STATUS_EVERY_S = 5.0


def register(sub: Any) -> None:
    p = sub.add_parser("batch", help="analyse a cohort of sessions on a local pool or a Dask cluster",
                       description="Analyse every session of MANIFEST (CSV: video[,subject_id,diagnosis,"
                                   "segments,session_id], paths relative to it) into DIR/sessions/, then write "
                                   "DIR/cohort.csv, DIR/cohort.parquet and DIR/failures.csv. Re-running skips "
                                   "finished sessions and resumes interrupted ones.")
    p.add_argument("manifest", help="manifest CSV")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--workers", type=int, default=1, help="local worker processes (default 1)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address (tcp://host:port): run the sessions on that cluster")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--backend", default="mediapipe", choices=["mediapipe", "torch"])
    p.add_argument("--fps", type=float, default=10.0, help="sampled frames per second (default 10)")
    p.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_batch)

    m = sub.add_parser("export-mesh", help="pose-free face mesh of a frame (or a range) as OBJ/PLY",
                       description="Write the mesh with the head pose removed (template units, cm; 852 "
                                   "triangles; vertex k = landmark k).")
    m.add_argument("results", help="results file (.h5)")
    m.add_argument("-o", "--output", required=True, help="OUT.obj / OUT.ply, or a folder with --range")
    g = m.add_mutually_exclusive_group(required=True)
    g.add_argument("--frame", type=int, help="sampled frame index")
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


# -- batch ---------------------------------------------------------------------------------------
class _Reporter:
    """Cohort progress on stderr: one line per finished session, a status line every few seconds."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.last = time.monotonic()

    def __call__(self, status: Any) -> None:
        o = status.finished_now
        if o is not None:
            what = ("skipped (already analysed)" if o.skipped else f"{o.n_frames} frames in {o.wall_s:.1f} s"
                    + (" (resumed)" if o.resumed else "")) if o.status == "ok" else f"FAILED: {o.reason}"
            print(f"[{status.n_finished}/{self.total}] {o.session_id}: {what}", file=sys.stderr, flush=True)
            return
        now = time.monotonic()
        if now - self.last < _STATUS_EVERY_S or not status.running:
            return
        self.last = now
        parts = []
        for sid, st in sorted(status.running.items()):
            done, total = int(st.get("done", 0)), int(st.get("total", 0))
            parts.append(f"{sid} {100 * done // total}%" if total else f"{sid} starting")
        print(f"cohort: {status.n_finished}/{self.total} finished ({status.n_failed} failed); running: "
              + ", ".join(parts), file=sys.stderr, flush=True)


def cmd_batch(args: argparse.Namespace) -> int:
    from facelens.core.batch import BatchError, ManifestError, read_batch_manifest, run_batch

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder")
    try:
        entries = read_batch_manifest(args.manifest)
    except ManifestError as exc:
        raise UsageError(str(exc)) from None
    engine = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.workers} local worker(s)"
    print(f"batch: {len(entries)} session(s) on {engine} -> {out}", file=sys.stderr, flush=True)
    try:
        result = run_batch(entries, out, workers=args.workers, scheduler=args.scheduler, fps=args.fps,
                           device=args.device, backend=args.backend, batch_size=args.batch_size,
                           on_status=_Reporter(len(entries)))
    except BatchError as exc:
        raise UsageError(str(exc)) from None
    except KeyboardInterrupt:
        raise CommandError(f"interrupted; finished sessions are kept in {out / 'sessions'} - run the same "
                           "command again to resume", 130) from None
    n_fail = len(result.failed)
    print(f"wrote {result.cohort_csv}, {result.cohort_parquet} and {result.failures_csv}: "
          f"{len(entries) - n_fail} of {len(entries)} session(s) finished in {result.wall_s:.1f} s")
    if n_fail:
        for o in result.failed:
            print(f"  failed: {o.session_id}: {o.reason}", file=sys.stderr)
        return 1
    return 0


# -- export-mesh ---------------------------------------------------------------------------------
def cmd_export_mesh(args: argparse.Namespace) -> int:
    from facelens.core.exports import ExportError, export_mesh, export_mesh_range
    from facelens.core.results import ResultsError, SessionResults

    try:
        res = SessionResults.open(args.results)
    except ResultsError as exc:
        raise UsageError(str(exc)) from None
    try:
        with res:
            if args.range is not None:
                a, sep, b = args.range.partition(":")
                try:
                    start = int(a) if a else 0
                    stop = int(b) if b else res.n_frames
                except ValueError:
                    raise UsageError(f"--range must be A:B with frame numbers, not {args.range!r}") from None
                if not sep or args.step < 1 or not 0 <= start < stop:
                    raise UsageError("--range must be A:B with 0 <= A < B, and --step positive")
                frames = range(start, min(stop, res.n_frames), args.step)
                written, skipped = export_mesh_range(res, frames, args.output, fmt=args.format or "obj",
                                                     stem=Path(args.results).stem)
                print(f"wrote {len(written)} mesh file(s) to {args.output}"
                      + (f"; {len(skipped)} frame(s) without a face skipped" if skipped else ""))
                if not written:
                    raise CommandError("no frame in the range has a face", 3)
                return 0
            frame = args.frame if args.frame is not None else res.frame_at_time(args.time)
            path = export_mesh(res, frame, args.output, args.format)
            print(f"wrote {path} (frame {frame}, t={float(res.time_s[frame]):.3f} s)")
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc}", 1) from None
    return 0


# -- segments import / export -------------------------------------------------------------------
def _fmt_of(path: str, fmt: str | None) -> str:
    return fmt or ("elan" if path.lower().endswith(".eaf") else "boris")


def cmd_segments_import(args: argparse.Namespace) -> int:
    from facelens.core.exports import ExportError, read_boris_csv, read_eaf
    from facelens.core.segments import write_segments_csv

    try:
        if _fmt_of(args.source, args.format) == "elan":
            segs = read_eaf(args.source, tier=args.tier)
        else:
            segs = read_boris_csv(args.source)
    except ExportError as exc:
        raise UsageError(str(exc)) from None
    if not segs:
        raise UsageError(f"{args.source}: no time-aligned annotations found")
    try:
        write_segments_csv(segs, args.output)
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc}", 1) from None
    print(f"wrote {args.output} ({len(segs)} segments)")
    return 0


def cmd_segments_export(args: argparse.Namespace) -> int:
    from facelens.core.exports import ExportError, write_boris_csv, write_eaf
    from facelens.core.segments import SegmentError, read_segments_csv

    try:
        segs = read_segments_csv(args.segments)
        if _fmt_of(args.output, args.format) == "elan":
            write_eaf(segs, args.output, media=args.media)
        else:
            write_boris_csv(segs, args.output, media=args.media or "")
    except (SegmentError, ExportError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"cannot write {args.output}: {exc}", 1) from None
    print(f"wrote {args.output} ({len(segs)} segments)")
    return 0
