"""Pure functions from a history to a verdict. Imports nothing from harness or node.

Each checker module has `check(history, **opts) -> Result`: `lost_adds`,
`causality`, `convergence`, `staleness` (Dynamo histories, docs/history.md) and
`linearizable` (a Porcupine-compatible checker, also for Porcupine and Knossos
histories).
"""

# ruff: noqa: E402  (the package path is set before the package's modules are imported)
# first: it puts a current mypyc build of the hot modules on this package's path
import native

native.activate(__name__, __path__)

from checkers import causality, convergence, linearizable, lost_adds, staleness
from checkers.history import HistoryError, Op, OpType, read_jsonl, write_jsonl
from checkers.result import UNKNOWN, Result, merge_valid, run_safely

__all__ = [
    "UNKNOWN",
    "HistoryError",
    "Op",
    "OpType",
    "Result",
    "causality",
    "convergence",
    "linearizable",
    "lost_adds",
    "merge_valid",
    "read_jsonl",
    "run_safely",
    "staleness",
    "write_jsonl",
]
