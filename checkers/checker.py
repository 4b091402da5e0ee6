"""The checker interface, and `check_checker`: the contract every checker must keep.

A checker is a pure function from a history to a `Result` (workloads name
theirs in `Workload.checkers`). The kit checks, on the histories it is given
and on the empty history, that the checker:

* returns a `Result` whose `valid` is True, False or "unknown" and whose
  `to_dict()` is JSON;
* leaves the history as it found it, and gives the same verdict and
  anomalies when run again;
* never says False for the empty history;
* says False, naming at least one anomaly, for each history given as anomalous.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from typing import Protocol

from checkers.history import Op
from checkers.result import UNKNOWN, Result


class Checker(Protocol):
    """A history in, a verdict out; no I/O, no mutation of the history."""

    def __call__(self, history: list[Op], /) -> Result: ...


class ContractError(AssertionError):
    """A checker broke the contract; the message says how and on which history."""


def check_checker(
    checker: Checker, histories: Iterable[list[Op]], anomalous: Iterable[list[Op]] = ()
) -> None:
    """Raises ContractError unless `checker` keeps the contract on every history given."""
    for i, history in enumerate([[], *histories]):
        result = _run_twice(checker, history, f"history {i}")
        if i == 0 and result.valid is False:
            raise ContractError("the empty history was judged invalid")
    for i, history in enumerate(anomalous):
        result = _run_twice(checker, history, f"anomalous history {i}")
        if result.valid is not False or not result.anomalies:
            raise ContractError(f"anomalous history {i} was judged {result.valid!r}, no anomaly")


def _run_twice(checker: Checker, history: list[Op], name: str) -> Result:
    before = copy.deepcopy(history)
    first = checker(history)
    if not isinstance(first, Result):
        raise ContractError(f"{name}: returned {type(first).__name__}, not a Result")
    if first.valid not in (True, False, UNKNOWN):
        raise ContractError(f"{name}: valid is {first.valid!r}")
    try:
        json.dumps(first.to_dict())
    except (TypeError, ValueError) as e:
        raise ContractError(f"{name}: the result is not JSON ({e})") from None
    if history != before:
        raise ContractError(f"{name}: the checker changed the history")
    again = checker(copy.deepcopy(before))
    if (again.valid, again.anomalies) != (first.valid, first.anomalies):
        raise ContractError(f"{name}: a second run gave a different verdict or anomalies")
    return first
