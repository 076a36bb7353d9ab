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


MIN_SIZE = (320, 240)  # smaller than this the docks cannot lay out; Qt would silently enlarge it
MAX_SIDE = 16384       # beyond what a window (and its screenshot buffer) can reasonably be
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def parse_size(text: str) -> tuple[int, int]:
    """``"1920x1080"`` → ``(1920, 1080)``; ``ValueError`` (one line) for anything else or out of range."""
    parts = text.lower().strip().split("x")
    try:
        w, h = (int(x) for x in parts)
    except ValueError:
        raise ValueError(f"--size must look like 1920x1080, not {text!r}") from None
    if not (MIN_SIZE[0] <= w <= MAX_SIDE and MIN_SIZE[1] <= h <= MAX_SIDE):
        raise ValueError(f"--size {text}: width must be {MIN_SIZE[0]}..{MAX_SIDE} and height "
                         f"{MIN_SIZE[1]}..{MAX_SIDE} pixels")
    return w, h


def check_screenshot_target(path: str) -> None:
    """Refuse a screenshot path that cannot be written *before* anything is opened or created."""
    p = Path(path)
    if p.suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"--screenshot {path}: use a .png (or .jpg / .bmp) file name")
    if p.is_dir():
        raise ValueError(f"--screenshot {path} is a folder; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"--screenshot {path}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--screenshot {path}: folder {parent} is not writable")


def run(args: argparse.Namespace) -> int:
    from facelens.cli import UsageError

    size = None
    if args.size:
        try:
            size = parse_size(args.size)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    if args.workspace and Path(args.workspace).exists() and not Path(args.workspace).is_dir():
        raise UsageError(f"{args.workspace} is a file; a workspace is a folder")
    if args.at is not None and args.at < 0:
        raise UsageError("--at must be ≥ 0 seconds")
    if args.screenshot and not (args.demo or args.workspace):
        raise UsageError("--screenshot needs --demo or a WORKSPACE")
    if args.screenshot:
        try:
            check_screenshot_target(args.screenshot)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        # A screenshot run only looks: it never creates a workspace.
        from facelens.core.workspace.store import DB_NAME

        if args.workspace and not args.demo and not (Path(args.workspace) / DB_NAME).is_file():
            raise UsageError(f"--screenshot: {args.workspace} is not a FaceLens workspace "
                             "(a screenshot run does not create one)")
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") \
            and os.environ.get("QT_QPA_PLATFORM", "") not in ("offscreen", "minimal"):
        raise UsageError("no display: run it under a desktop session or xvfb-run")
    from facelens.gui.app import run_gui

    return run_gui(args.workspace, demo=args.demo, screenshot=args.screenshot, at=args.at, size=size)
