"""`sibyl cluster` (being built in the foundation issue)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("cluster", help="cluster (not implemented yet)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    print("sibyl cluster: not implemented yet", file=sys.stderr)
    return 2
