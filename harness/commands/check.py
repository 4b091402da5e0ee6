"""`sibyl check`: run a checker on a stored history file, or re-check a run directory.

Exit status: 0 valid, 1 invalid, 2 unknown, 254 unusable input or options.
"""

from __future__ import annotations

import argparse
import json
import os
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
from harness.errors import UsageError

DYNAMO_CHECKERS = ("lost_adds", "causality", "convergence", "staleness")
CHECKERS = ("linearizable", *DYNAMO_CHECKERS)
_STATUS = {CheckResult.OK: 0, CheckResult.ILLEGAL: 1, CheckResult.UNKNOWN: 2}
#: Options that only the linearizability checker reads.
_LINEARIZABLE_ONLY = ("model", "format", "init", "html", "verbose")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Registers `sibyl check`."""
    p = sub.add_parser(
        "check",
        help="check a history file or re-check a run directory",
        description="With a history file (Sibyl JSONL, Porcupine or Knossos formats): check it "
        "for linearizability. With a run directory: re-run its workload's checkers and rewrite "
        "its results.json, junit.xml and report.html (it says so), or, with --checker, run one "
        "checker and rewrite nothing.",
    )
    p.add_argument("path", help="history file, or run directory (e.g. store/latest)")
    p.add_argument(
        "--checker",
        choices=CHECKERS,
        default=None,
        help="which checker (default: linearizable for a file, the workload's checkers for "
        "a run directory)",
    )
    p.add_argument(
        "--model",
        choices=sorted(MODELS),
        help="linearizability model (default: suggested by the history's operations)",
    )
    p.add_argument("--format", choices=FORMATS, help="history format (default: detected)")
    p.add_argument("--init", help="the model's initial state, as EDN or JSON, e.g. 0 or '{:x 0}'")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before 'unknown'")
    p.add_argument("--html", metavar="OUT", help="write an interactive linearizability view")
    p.add_argument(
        "--verbose", action="store_true", help="compute partial linearizations for every op"
    )
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")
    if not path.exists():
        raise UsageError(f"{path}: no such file or run directory")
    if args.html:
        _check_output(Path(args.html))
    if args.checker in DYNAMO_CHECKERS:
        for name in _LINEARIZABLE_ONLY:
            if getattr(args, name) not in (None, False):
                raise UsageError(f"--{name} applies to --checker linearizable, "
                                 f"not --checker {args.checker}")  # fmt: skip
    if path.is_dir():
        run_dir = _find_run(path)
        if (
            args.checker in DYNAMO_CHECKERS
            or args.checker is None
            and not _wants_linearizable(args)
        ):
            return _check_run(run_dir, args)
        path = run_dir / "history.jsonl"
    elif args.checker in DYNAMO_CHECKERS:
        raise UsageError(f"--checker {args.checker} re-checks a run directory (it needs the "
                         f"run's config and final reads), not the file {path}")  # fmt: skip
    return _check_file(path, args)


def _wants_linearizable(args: argparse.Namespace) -> bool:
    return args.checker == "linearizable" or any(
        getattr(args, name) not in (None, False) for name in _LINEARIZABLE_ONLY
    )


def _check_output(out: Path) -> None:
    """Raises UsageError unless `out` can be written (before any checking starts)."""
    folder = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise UsageError(f"--html {out} is a folder; name the file to write, e.g. {out}/view.html")
    if not folder.is_dir():
        raise UsageError(f"--html {out}: the folder {folder} does not exist; create it first")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"--html {out}: cannot write in {folder}")


def _find_run(path: Path) -> Path:
    from harness.store import StoreError, find_run

    try:
        return find_run(path)
    except StoreError as e:
        raise UsageError(str(e)) from None


def _check_run(run_dir: Path, args: argparse.Namespace) -> int:
    """A run directory: re-run its workload's checkers (all of them, or `--checker`)."""
    from rich.console import Console

    from checkers.history import HistoryError
    from harness.runner import recheck
    from harness.store import StoreError

    console = Console(stderr=True) if args.json else Console()
    try:
        outcome = recheck(run_dir, console, only=args.checker)
    except (StoreError, HistoryError, KeyError) as e:
        raise UsageError(f"{run_dir}: cannot re-check it: {e}") from None
    if args.json:
        print(json.dumps(outcome.doc, default=str))
    return outcome.status


def _check_file(path: Path, args: argparse.Namespace) -> int:
    """A history file (or a run's history.jsonl): the linearizability checker."""
    try:
        parsed = load_history(path, args.format)
        name = args.model or parsed.suggested_model
        model = make_model(name, parse_initial_state(args.init))
        check_vocabulary(name, parsed.operations)
    except (ParseError, ValueError) as e:
        raise UsageError(str(e)) from None
    if not parsed.operations:
        raise UsageError(f"{path}: the history has no operations, so there is nothing to check; "
                         "is it the right file?")  # fmt: skip
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
        print(f"visualization: {out}", file=sys.stderr if args.json else sys.stdout)
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
