"""Delta debugging (Zeller's ddmin): a smallest failing subset, by testing subsets.

Chosen over hypothesis's shrinker because the failing input here is a
concrete schedule found elsewhere (a simulator seed, a real run), not an
example hypothesis generated, and its shrinker is not a public API over
arbitrary inputs; ddmin takes the list as it is, is deterministic, and its
result is 1-minimal (dropping any one element makes the test pass) when the
budget allows. `fails` may be noisy (a real run): `ddmin` only keeps subsets
it saw fail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass
class Budget:
    """At most `runs` calls of the test (shared between the stages of one shrink)."""

    runs: int
    used: int = 0

    def take(self) -> bool:
        if self.used >= self.runs:
            return False
        self.used += 1
        return True


def ddmin(items: Sequence[T], fails: Callable[[list[T]], bool], budget: Budget) -> list[T]:
    """A subset of `items` (order kept) for which `fails` held; `items` itself is assumed to fail.

    Splits into n chunks, tries each chunk and each complement; keeps the
    first that fails, else doubles n. Stops when n exceeds the length or the
    budget runs out (then the result is smaller, but maybe not 1-minimal).
    """
    current, n = list(items), 2
    while len(current) >= 2 and n <= len(current):
        chunks = _split(current, n)
        for i, chunk in enumerate(chunks):
            rest = [x for j, c in enumerate(chunks) if j != i for x in c]
            for candidate, next_n in ((chunk, 2), (rest, max(n - 1, 2))):
                if not budget.take():
                    return current
                if fails(candidate):
                    current, n = candidate, next_n
                    break
            else:
                continue
            break
        else:
            if n == len(current):
                break
            n = min(2 * n, len(current))
    if len(current) == 1 and budget.take() and fails([]):
        return []
    return current


def _split(items: list[T], n: int) -> list[list[T]]:
    size, extra = divmod(len(items), n)
    out, at = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        out.append(items[at : at + step])
        at += step
    return out
