"""`sibyl check`: run a checker on a stored history file, or re-check a run directory.

Exit status: 0 valid, 1 invalid, 2 unknown (or the input could not be read).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from checkers.linearizable import (
    CheckResult,
    LinearizationInfo,
    Model,
    ParseError,
    check_operations_info,
    check_operations_verbose,
    load_history,
    make_model,
    visualize,
)
from checkers.linearizable.api import describe_illegal, result_from_info
from checkers.linearizable.files import parse_initial_state
from checkers.linearizable.models import MODELS, check_vocabulary
from checkers.linearizable.parsers import FORMATS

CHECKERS = ("linearizable",)
_STATUS = {CheckResult.OK: 0, CheckResult.ILLEGAL: 1, CheckResult.UNKNOWN: 2}


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Registers `sibyl check` (one `--checker` choice today: linearizable)."""
    p = sub.add_parser("check", help="check a history file or run directory")
    p.add_argument("path", help="history file or run directory")
    p.add_argument("--checker", choices=CHECKERS, default="linearizable", help="which checker")
    p.add_argument(
        "--model",
        choices=sorted(MODELS),
        help="the model (default: suggested by the history's operations)",
    )
    p.add_argument("--format", choices=FORMATS, help="history format (default: detect)")
    p.add_argument("--init", help="initial state, as EDN or JSON (e.g. 0, '{:x 0 :y 0}')")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before 'unknown'")
    p.add_argument("--html", metavar="OUT", help="write an interactive HTML visualization")
    p.add_argument(
        "--verbose", action="store_true", help="compute partial linearizations for every op"
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=_run)


def _check_run(path: Path) -> int:
    """A run directory: re-run its workload's checkers and rewrite its reports."""
    from rich.console import Console

    from checkers.history import HistoryError
    from harness.runner import recheck
    from harness.store import StoreError, find_run

    try:
        return recheck(find_run(path), Console())
    except (StoreError, HistoryError, KeyError) as e:
        print(f"sibyl check: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.is_dir():
        return _check_run(path)
    try:
        parsed = load_history(path, args.format)
        name = args.model or parsed.suggested_model
        model = make_model(name, parse_initial_state(args.init))
        check_vocabulary(name, parsed.operations)
    except (ParseError, ValueError) as e:
        print(f"sibyl check: {e}", file=sys.stderr)
        return 2
    check = check_operations_verbose if args.verbose else check_operations_info
    try:
        result, info = check(model, parsed.operations, args.timeout)
    except Exception as e:  # noqa: BLE001 - a checker crash is an unknown verdict, not a crash
        print(f"sibyl check: the checker failed: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    info.add_annotations(parsed.annotations)
    if args.json:
        print(json.dumps(result_from_info(model, info).to_dict(), default=repr))
    else:
        _print_verdict(args, path, name, model, len(parsed.operations), info)
    if args.html:
        out = visualize(model, info, args.html, title=path.name)
        print(f"visualization: {out}")
    return _STATUS[result]


def _print_verdict(
    args: argparse.Namespace, path: Path, name: str, model: Model, n: int, info: LinearizationInfo
) -> None:
    print(f"{path}: {info.result.value} ({n} operations, {len(info.partitions)} partitions, "
          f"model {name}, {info.elapsed_s:.3f} s)")  # fmt: skip
    illegal = describe_illegal(model, info)
    if illegal is not None:
        print(illegal)
    if info.result is CheckResult.UNKNOWN:
        why = "the cache outgrew its memory budget" if info.unknown_reason == "memory" else ""
        print(why or f"no verdict within {args.timeout} s")
