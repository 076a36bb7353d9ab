"""``facelens dynamics RESULT.h5 --segments SEGMENTS.csv [--json] [--pac-threshold X]``.

Exit codes: 0 done, 2 unusable results/segments file, segments outside the recording or a bad option.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

from facelens.cli import UsageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dynamics", help="valence/arousal statistics and dynamics indices per segment",
                       description="Per-label mean ± SD of frame-level valence/arousal and dynamics indices "
                                   "(SD, MSSD, PAC, inertia, range, quadrants, response) of one results file.")
    p.add_argument("results", help="results file (.h5) of an analysis")
    p.add_argument("--segments", required=True, help="segments CSV (start_s,end_s,label)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    p.add_argument("--pac-threshold", type=float, default=None, help="acute-change cut-off (default 0.2)")
    p.set_defaults(func=run_dynamics)


def _fmt(x: float, digits: int = 3) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def open_inputs(results: str, segments: str) -> tuple[Any, list]:
    """Open a results file and its segments, refusing segments that lie beyond the recording."""
    from facelens.core.dynamics import check_segments_in_results
    from facelens.core.results import ResultsError, SessionResults
    from facelens.core.annotation.segments import SegmentError, read_segments_csv

    try:
        segs = read_segments_csv(segments)
        res = SessionResults.open(results)
    except (ResultsError, SegmentError) as exc:
        raise UsageError(str(exc)) from None
    try:
        check_segments_in_results(res, segs)
    except SegmentError as exc:
        res.close()
        raise UsageError(f"{Path(segments).name}: {exc}") from None
    return res, segs


def _pac_threshold(value: float | None) -> float:
    from facelens.core.dynamics import PAC_THRESHOLD

    if value is None:
        return PAC_THRESHOLD
    # 0 is a legal (if extreme) cut-off: every change counts; negative or NaN is meaningless
    if not (math.isfinite(value) and value >= 0.0):
        raise UsageError(f"--pac-threshold must be a number >= 0 (VA units), not {value}")
    return float(value)


def run_dynamics(args: argparse.Namespace) -> int:
    from facelens.core.dynamics import session_dynamics

    pac = _pac_threshold(args.pac_threshold)
    res, segs = open_inputs(args.results, args.segments)
    with res:
        dyn = session_dynamics(res, segs, pac_threshold=pac)
        n_frames, n_usable = res.n_frames, int(res.usable.sum())
    if args.json:
        print(json.dumps(dyn.to_dict(), indent=1))
        return 0
    print(f"{Path(args.results).name}: {n_frames} sampled frames, {n_usable} usable; {len(segs)} segments")
    print(f"{'label':<10}{'segs':>5}{'frames':>8}{'valid':>7}   {'valence mean ± SD':<20}{'arousal mean ± SD':<20}")
    for lab, st in dyn.by_label.items():
        print(f"{lab:<10}{st.n_segments:>5}{st.n_frames:>8}{st.n_valid:>7}   "
              f"{_fmt(st.valence.mean) + ' ± ' + _fmt(st.valence.sd):<20}"
              f"{_fmt(st.arousal.mean) + ' ± ' + _fmt(st.arousal.sd):<20}")
    print(f"valence contrast (happy − sad mean): {_fmt(dyn.valence_contrast)}")
    print("\nper segment (V = valence, A = arousal; latency in s):")
    names = [f"{s.label}@{s.start_s:g}" for s in dyn.segments]
    w = max([8, *map(len, names)])  # the segment column fits the longest name: never cut "happy@12.5"
    head = ("valid", "V SD", "V MSSD", "V PAC", "V AC1", "V range", "A SD", "A MSSD", "A PAC",
            "A AC1", "V ampl", "V lat", "A ampl", "A lat")
    print(f"{'segment':<{w}} " + " ".join(f"{h:>8}" for h in head))
    for name, s in zip(names, dyn.segments):
        vals = [s.valence.sd, s.valence.mssd, s.valence.pac, s.valence.inertia, s.valence.range,
                s.arousal.sd, s.arousal.mssd, s.arousal.pac, s.arousal.inertia,
                s.valence_response.amplitude, s.valence_response.latency_s,
                s.arousal_response.amplitude, s.arousal_response.latency_s]
        print(f"{name:<{w}} {s.valence.n_valid:>8} " + " ".join(f"{_fmt(v, 4 if i in (1, 6) else 3):>8}" for i, v in enumerate(vals)))
    q = dyn.session_quadrants
    print("\nsession: time in quadrants " + ", ".join(f"{k} {_fmt(100 * v, 1)} %" for k, v in q.items()))
    sv, sa = dyn.session_valence, dyn.session_arousal
    print(f"session valence: SD {_fmt(sv.sd)} MSSD {_fmt(sv.mssd, 4)} PAC {_fmt(sv.pac)} inertia {_fmt(sv.inertia)}")
    print(f"session arousal: SD {_fmt(sa.sd)} MSSD {_fmt(sa.mssd, 4)} PAC {_fmt(sa.pac)} inertia {_fmt(sa.inertia)}")
    print(f"(PAC threshold {dyn.params['pac_threshold']}; definitions: docs/dynamics.md)")
    return 0

