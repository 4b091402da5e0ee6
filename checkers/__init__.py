"""Pure functions from a history to a verdict. Imports nothing from harness or node.

Each checker module has `check(history, **opts) -> Result`: `lost_adds`,
`causality`, `convergence`, `staleness` (Dynamo histories, docs/history.md) and
`linearizable` (a Porcupine-compatible checker, also for Porcupine and Knossos
histories).
"""

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
