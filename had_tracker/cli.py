"""The ``had-tracker`` command line: one entry point, one sub-command module per area.

Each module in ``had_tracker.commands`` exposes ``register(subparsers)`` that adds its sub-command(s)
and sets ``func`` on the parser it adds; ``func(args) -> int`` is the exit code. Heavy imports (torch,
cv2) happen inside ``func``, so ``had-tracker --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys

from had_tracker import __version__
from had_tracker.errors import HadTrackerError

# Order is the order shown in --help.
COMMAND_MODULES = (
    "demo",
    "synth",
    "assets",
    "train",
    "export",
    "eval",
    "replay",
    "events",
    "bag",
    "label",
    "bench",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="had-tracker",
        description="Event-camera single-object tracking with Hierarchical Asymmetric Distillation (HAD).",
    )
    parser.add_argument("--version", action="version", version=f"had-tracker {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"had_tracker.commands.{name}") is None:
            continue  # area not built yet in this checkout
        importlib.import_module(f"had_tracker.commands.{name}").register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; errors a user can meet print one line and exit 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # inside the try: a reader that went away (``| head``) is handled below
        return code
    except BrokenPipeError:
        # The reader of stdout closed it (e.g. ``had-tracker bag info --json | head``): stop quietly, as
        # command-line tools do; stdout goes to devnull so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by the broken pipe
    except HadTrackerError as exc:
        print(f"had-tracker {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
