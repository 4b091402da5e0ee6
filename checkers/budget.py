"""A checker's time budget: a deadline checked cheaply inside hot loops.

A checker creates one `Budget` from its `time_limit_s` option and calls `tick()`
in every loop whose length grows with the history. `tick()` looks at the clock
only every `every` calls, so it costs almost nothing; once the deadline has
passed it raises `BudgetExceeded`, which the checker turns into an "unknown"
verdict naming the stage it was in. A checker therefore never hangs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


class BudgetExceeded(Exception):
    """Raised by `Budget.tick` once the deadline has passed; carries the stage name."""

    def __init__(self, stage: str, limit_s: float) -> None:
        self.stage = stage
        self.limit_s = limit_s
        super().__init__(f"time limit of {limit_s:g} s exceeded while {stage}")


@dataclass
class Budget:
    """A deadline `limit_s` seconds from creation; `stage` names the current work."""

    limit_s: float
    every: int = 4096
    stage: str = "starting"
    _deadline: float = field(init=False)
    _count: int = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.limit_s
        self._count = 0  # here, not as a field default: a mypyc build leaves that unset

    def enter(self, stage: str) -> None:
        """Names the work that follows (for the "unknown" reason) and checks the clock."""
        self.stage = stage
        self.check()

    def tick(self) -> None:
        """Counts one unit of work; every `every` units, raises BudgetExceeded if late."""
        self._count += 1
        if self._count >= self.every:
            self._count = 0
            self.check()

    def check(self) -> None:
        """Raises BudgetExceeded if the deadline has passed."""
        if time.monotonic() > self._deadline:
            raise BudgetExceeded(self.stage, self.limit_s)
