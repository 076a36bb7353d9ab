"""``facelens demo``: build and analyse the synthetic demo session, then summarise it."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from facelens.cli import CommandError, UsageError

if TYPE_CHECKING:
    from facelens.core.demo.session import DemoSession


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="build and analyse the synthetic demo session",
        description=(
            "Generate the synthetic demo session (a public-domain portrait warped through a scripted "
            "sequence of expressions; not a patient recording), analyse it at 10 fps and print a "
            "summary. A second run with the same options reuses the existing output."
        ),
    )
    p.add_argument("--out", type=Path, default=None, metavar="DIR",
                   help="output folder (default: $FACELENS_DEMO_DIR or ~/.cache/facelens/demo)")
    p.add_argument("--duration", type=float, default=60.0, metavar="S",
                   help="video length in seconds; the 60-s script is scaled to it (default 60)")
    p.add_argument("--seed", type=int, default=0, help="seed of the head motion (default 0)")
    p.add_argument("--no-analyse", dest="analyse", action="store_false",
                   help="only generate the video, script and segments")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from facelens.core.demo.session import DemoError, build_demo, default_demo_dir

    if not (math.isfinite(args.duration) and 2.0 <= args.duration <= 3600.0):
        raise UsageError(f"--duration must be between 2 and 3600 seconds, got {args.duration}")
    out = args.out if args.out is not None else default_demo_dir()
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a folder")
    try:
        session = build_demo(out, analyse=args.analyse, duration_s=args.duration, seed=args.seed)
    except DemoError as exc:
        raise CommandError(str(exc)) from None
    except OSError as exc:
        raise CommandError(f"demo failed: {exc}") from None
    print(session.notice)
    if session.reused:
        made = "reused existing output"
    else:
        made = f"generated in {session.generation_s:.1f} s" if session.generation_s else "video reused"
        if session.analysis_s:
            made += f", analysed in {session.analysis_s:.1f} s"
    print(f"  video:    {session.video} ({args.duration:g} s; {made})")
    print(f"  script:   {session.script}")
    print(f"  segments: {session.segments_csv}")
    if session.results is not None:
        print(f"  results:  {session.results}")
        for line in summary_lines(session):
            print(line)
    print(f"Note: {session.caveat}")
    return 0


def summary_lines(session: DemoSession) -> list[str]:
    """Frames analysed, discards and per-expression means of the measures each expression moves."""
    import numpy as np

    from facelens.core.demo.session import plateau_means, relevant_measures
    from facelens.core.results import ResultsError, SessionResults

    if session.results is None:
        return []
    try:
        res = SessionResults.open(session.results)
    except ResultsError as exc:
        raise CommandError(str(exc)) from None
    with res:
        fps = res.params.get("fps", "?")
        lines = [(f"Duration {res.duration_s:.1f} s; {res.n_frames} frames analysed at {fps} fps; "
                  f"{int(res.usable.sum())} usable.")]
        discards = {k: v for k, v in res.discard_counts().items() if v}
        lines.append("Discarded: " + (", ".join(f"{k} {v}" for k, v in discards.items()) or "none"))
        names = list(res.expression_names)
        wanted = relevant_measures(names)
        shown = [n for n in names if any(n in v for v in wanted.values())]
        stats = plateau_means(res.time_s, res.usable, np.asarray(res.expressions, float),
                              session.spans, session.ramp_s)
        emotions, labels = np.asarray(res.emotions, float), list(res.emotion_labels)
        scored = res.usable & np.all(np.isfinite(emotions), axis=1)
        top = np.zeros(emotions.shape)
        top[np.flatnonzero(scored), np.argmax(np.nan_to_num(emotions[scored]), axis=1)] = 1.0
        shares = plateau_means(res.time_s, scored, top, session.spans, session.ramp_s)
    exprs = list(stats)
    lines.append("Expression measures, mean over usable frames where each scripted expression is fully on")
    lines.append("(inter-ocular units, relative to the neutral template; * = measure the expression should raise):")
    lines.append(f"  {'measure':<20}" + "".join(f"{e:>11}" for e in exprs))
    for name in shown:
        cells = []
        for e in exprs:
            value = stats[e][0][names.index(name)]
            mark = "*" if name in wanted.get(e, []) else " "
            cells.append(f"{value:>10.3f}{mark}" if np.isfinite(value) else f"{'n/a':>10} ")
        lines.append(f"  {name:<20}" + "".join(cells))
    lines.append(f"  {'frames':<20}" + "".join(f"{stats[e][1]:>10d} " for e in exprs))
    lines.append("Top emotion of the stored emotions (the default estimator's) on those frames, share of the frames:")
    for e in exprs:
        means, n = shares[e]
        if n:
            order = np.argsort(-means)[:2]
            lines.append(f"  {e:<20}" + ", ".join(f"{labels[k]} {means[k]:.2f}" for k in order if means[k] > 0))
    return lines
