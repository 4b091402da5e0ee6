"""`sibyl report RUN_DIR`: rebuild report.html, results.json and junit.xml of a stored run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.errors import ExitCode
from harness.report import regenerate
from harness.store import StoreError

BAD_INPUT = int(ExitCode.USAGE)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="rebuild a stored run's report.html, results.json and junit.xml",
        description="Rebuild report.html, results.json and junit.xml of a stored run from its "
        "files (crashed runs too), without re-running the checkers (`sibyl check RUN_DIR` "
        "re-checks). Exit status: the run's (0 valid, 1 invalid, 2 unknown, 255 crashed).",
    )
    p.add_argument("run_dir", help="a run directory, e.g. store/latest")
    p.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").is_file():
        print(f"sibyl report: {args.run_dir} is not a run directory (it has no config.json); "
              "pass one, e.g. store/latest", file=sys.stderr)  # fmt: skip
        return BAD_INPUT
    try:
        doc = regenerate(run_dir.resolve())
    except (StoreError, OSError) as e:
        print(f"sibyl report: cannot rebuild {args.run_dir}: {e}", file=sys.stderr)
        return BAD_INPUT
    for name in ("report.html", "results.json", "junit.xml"):
        print(f"wrote {run_dir / name}")
    if doc.get("crashed"):
        return 255
    v = doc.get("valid")
    return 0 if v is True else 1 if v is False else 2
