"""``facelens batch MANIFEST.csv --out DIR [--workers N] [--scheduler tcp://host:port] [--device auto|cpu|cuda]``.

Exit codes of ``batch``: 0 every session finished, 1 some failed (listed in DIR/failures.csv; the
others' results are complete), 2 unusable manifest, options or output folder, 130 interrupted (re-run resumes).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from facelens.cli import CommandError, UsageError
from facelens.cli._common import check_output_dir, require_models
from facelens.core.affect.choice import DEFAULT_ESTIMATOR, ESTIMATORS
from facelens.core.common.devices import DEVICE_CHOICES

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
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    p.add_argument("--backend", default="mediapipe", choices=["mediapipe", "torch"])
    p.add_argument("--fps", type=float, default=10.0, help="sampled frames per second (default 10)")
    p.add_argument("--va", default=DEFAULT_ESTIMATOR, choices=list(ESTIMATORS),
                   help="valence/arousal/emotion estimator (as for analyze; a finished session made with "
                        "the other one is analysed again)")
    p.add_argument("--batch-size", type=int, default=32, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_batch)



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
    from facelens.core.analysis.batch import BatchError, ManifestError, read_batch_manifest, run_batch

    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if not args.fps > 0:
        raise UsageError("--fps must be positive")
    out = check_output_dir(args.out, "--out")
    try:
        entries = read_batch_manifest(args.manifest)
    except ManifestError as exc:
        raise UsageError(str(exc)) from None
    if not args.scheduler:  # a cluster's workers hold their own models
        require_models()
    engine = f"Dask scheduler {args.scheduler}" if args.scheduler else f"{args.workers} local worker(s)"
    print(f"batch: {len(entries)} session(s) on {engine} -> {out}", file=sys.stderr, flush=True)
    try:
        result = run_batch(entries, out, workers=args.workers, scheduler=args.scheduler, fps=args.fps,
                           device=args.device, backend=args.backend, batch_size=args.batch_size,
                           on_status=_Reporter(len(entries)), va=args.va)
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

