"""`sibyl`: the command line. Each subcommand lives in `harness/commands/<name>.py`.

A command module exposes `add_parser(subparsers)`, which registers its parser
and sets `func` (taking the parsed args, returning the exit status). A command
raises `UsageError` for bad input; this module turns it into one message and
exit 254, and turns an argparse error into exit 254 too (argparse's own 2 would
read as "unknown"). Exit codes are listed in `harness.errors`.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from importlib import metadata
from typing import NoReturn

from harness.commands import (
    check,
    cluster,
    demo,
    index,
    kv,
    lab,
    report,
    run,
    serve,
    shrink,
    sim,
    sweep,
    toxiproxy,
)
from harness.errors import EXIT_CODES_HELP, ExitCode, UsageError

COMMANDS = (run, check, serve, cluster, kv, demo, toxiproxy, report, index, sweep, lab, sim, shrink)


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default after its help, unless the help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "default" in text
            or not action.option_strings
            or default in (None, False, argparse.SUPPRESS)
            or (isinstance(default, list | tuple) and not default)
        ):
            return text
        return f"{text} (default: %(default)s)"


class SibylParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors exit 254 (bad arguments), never 2 (unknown)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.USAGE), f"{self.prog}: error: {message}; see {self.prog} --help\n")


def version() -> str:
    """The installed distribution's version (the source tree's when not installed)."""
    try:
        return metadata.version("sibyl")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """Returns the full `sibyl` argument parser."""
    parser = SibylParser(
        prog="sibyl",
        description="Sibyl: a Jepsen-style verification and chaos lab for Dynamo-style stores.",
        epilog=EXIT_CODES_HELP,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sibyl {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    for p in _parsers(parser):
        p.formatter_class = HelpFormatter
        if p.epilog is None:
            p.epilog = EXIT_CODES_HELP
    return parser


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """`parser` and every subcommand parser below it."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _parsers(child)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one `sibyl` command; returns its exit status (also used as the process's)."""
    args = build_parser().parse_args(argv)
    prog = " ".join(["sibyl", args.command, *([args.verb] if getattr(args, "verb", None) else [])])
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return int(ExitCode.USAGE)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away: not an error of ours or the user's.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # noqa: BLE001 - a bug in Sibyl: say so, keep the details
        print(f"{prog}: crashed (a bug in Sibyl, not in your input): {type(e).__name__}: {e}",
              file=sys.stderr)  # fmt: skip
        traceback.print_exc(file=sys.stderr)
        return int(ExitCode.CRASHED)


if __name__ == "__main__":
    sys.exit(main())
