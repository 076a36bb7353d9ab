"""``facelens gui [WORKSPACE] [--demo] [--screenshot PNG --at SECONDS]``: the desktop application."""
from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gui", help="open the desktop application",
                              description="Open the FaceLens desktop application on a workspace folder "
                                          "(created if empty), or on the embedded demo session.")
    p.add_argument("workspace", nargs="?", help="workspace folder (default: the last one used)")
    p.add_argument("--demo", action="store_true",
                   help="open the synthetic demo session (generated and analysed on first use)")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the main window once rendered, then exit")
    p.add_argument("--at", type=float, metavar="SECONDS", help="put the playhead at this time first")
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 1920x1080 or 1366x768")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from facelens.cli import UsageError

    size = None
    if args.size:
        try:
            w, h = (int(x) for x in args.size.lower().split("x"))
            size = (w, h)
        except ValueError:
            raise UsageError(f"--size must look like 1920x1080, not {args.size!r}") from None
    if args.workspace and Path(args.workspace).exists() and not Path(args.workspace).is_dir():
        raise UsageError(f"{args.workspace} is a file; a workspace is a folder")
    if args.at is not None and args.at < 0:
        raise UsageError("--at must be ≥ 0 seconds")
    if args.screenshot and not (args.demo or args.workspace):
        raise UsageError("--screenshot needs --demo or a WORKSPACE")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and os.environ.get("QT_QPA_PLATFORM", "") not in ("offscreen", "minimal"):
        raise UsageError("no display: run it under a desktop session or xvfb-run")
    from facelens.gui.app import run_gui

    return run_gui(args.workspace, demo=args.demo, screenshot=args.screenshot, at=args.at, size=size)
