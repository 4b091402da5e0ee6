"""Pure functions from a history to a verdict. Imports nothing from harness or node."""

from checkers.history import HistoryError, Op, OpType, read_jsonl, write_jsonl
from checkers.result import UNKNOWN, Result, merge_valid, run_safely

__all__ = [
    "UNKNOWN",
    "HistoryError",
    "Op",
    "OpType",
    "Result",
    "merge_valid",
    "read_jsonl",
    "run_safely",
    "write_jsonl",
]
