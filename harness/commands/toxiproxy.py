"""`sibyl toxiproxy`: the Toxiproxy-compatible server (filled in by the fault-layer issue)."""

from __future__ import annotations

import argparse
import sys


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("toxiproxy", help="run the Toxiproxy-compatible fault server")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    print("sibyl toxiproxy: not implemented yet", file=sys.stderr)
    return 2
