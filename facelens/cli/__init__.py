"""The ``facelens`` command line. Each sub-command lives in its own module with a
``register(subparsers)`` function that adds its parser and sets ``func``.

Exit codes, for every sub-command: 0 success, 2 unusable input or unusable output location
(one line on stderr), 1 a failure during the work, 3 no face / a refusal, 130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from facelens import __version__
from facelens.core.common.console import native_log_filter

# Sub-command modules, in the order --help lists them.
COMMAND_MODULES = [
    "analyze",  # analyze, info, export
    "demo",
    "models",  # models list / fetch
    "affect",  # train-va, eval-affect
    "recon",  # recon build-model / contact-sheet (+ modules in recon.RECON_MODULES)
    "dynamics",
    "cohort",  # cohort simulate / train / evaluate / predict
    "validate",  # validity harness, fast subset
    "report",
    "batch",
    "exports",  # export-mesh, segments import / export
    "gui",
    "audit",  # audit verify
]


class UsageError(Exception):
    """Unusable input: reported as one line, exit code 2."""


class CommandError(Exception):
    """A failure with a message for the user and an exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facelens",
        description="FaceLens: facial affective dynamics from recorded sessions (research / decision support).",
    )
    parser.add_argument("--version", action="version", version=f"facelens {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="also show the native libraries' log lines (mediapipe, TensorFlow Lite)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:  # every listed module must import: a missing one is a bug, not a skip
        importlib.import_module(f"facelens.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with native_log_filter(enabled=not args.verbose):
            return int(args.func(args) or 0)
    except UsageError as exc:
        print(f"facelens: error: {exc}", file=sys.stderr)
        return 2
    except CommandError as exc:
        print(f"facelens: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("facelens: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `facelens models list | head`
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        # Last resort (the commands check their paths themselves): one line, never a traceback.
        # An error about a named file is an unusable input/output location (2); else a failure (1).
        from facelens.core.common.atomic import os_error_line

        print(f"facelens: error: {os_error_line(exc, 'cannot use')}", file=sys.stderr)
        return 2 if exc.filename is not None else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
