"""`sibyl`: the command line. Each subcommand lives in `harness/commands/<name>.py`.

A command module exposes `add_parser(subparsers)`, which registers its parser
and sets `func` (taking the parsed args, returning the exit status).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from harness.commands import check, cluster, demo, kv, lab, run, serve, toxiproxy

COMMANDS = (run, check, serve, cluster, kv, demo, toxiproxy, lab)


def build_parser() -> argparse.ArgumentParser:
    """Returns the full `sibyl` argument parser."""
    parser = argparse.ArgumentParser(
        prog="sibyl",
        description="Sibyl: a Jepsen-style verification and chaos lab for Dynamo-style stores.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one `sibyl` command; returns its exit status (also used as the process's)."""
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args))
    except KeyboardInterrupt:
        print("sibyl: interrupted", file=sys.stderr)
        status = 130
    return status


if __name__ == "__main__":
    sys.exit(main())
