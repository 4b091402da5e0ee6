"""`sibyl check`: run checkers on a stored history (filled in by the checker issues)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="check a history file or run directory")
    p.add_argument("path", help="history file or run directory")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    print("sibyl check: not implemented yet", file=sys.stderr)
    return 2
