"""The simulator's network: directed links that drop, delay, duplicate and partition.

Every ordered pair of node names (src, dst) is one link, as in the real lab,
where each direction runs through its own proxy. A link is either cut (a
partition) or connected with `LinkFaults` (a drop probability, a duplicate
probability, an extra delay). A cut link says nothing to the sender (no
connection refused, no reset); it either loses what is sent over it, like
iptables DROP, or holds it and delivers it after `heal`, like the lab's
Toxiproxy `timeout` toxic (TCP retransmission after a short partition).
Whether a message arrives, and after how long, is drawn from the simulator's
one `random.Random`, so the same seed gives the same fates.

The invariant it keeps: a message is delivered only if its link is connected
when it arrives (the simulator asks `connected` at delivery time); one that
arrives at a holding cut is parked until `heal`, which tells `heal_listeners`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LinkFaults:
    """What one connected directed link does to each message sent over it.

    `drop` and `duplicate` are probabilities in [0, 1]; `delay_ms` is added to
    the base latency of every copy.
    """

    drop: float = 0.0
    duplicate: float = 0.0
    delay_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("drop", "duplicate"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"LinkFaults.{name} must be a probability in [0, 1], got {p!r}")
        if self.delay_ms < 0:
            raise ValueError(f"LinkFaults.delay_ms must be >= 0, got {self.delay_ms!r}")


def uniform_ints(rng: random.Random, lo: int, hi: int) -> Callable[[], int]:
    """A function drawing `rng.randint(lo, hi)`: the same values from the same draws of
    `rng` (the one `getrandbits(k)` loop CPython's randint runs), without randint's
    argument checks on every call; the simulator draws a latency per message."""
    width = hi - lo + 1
    if width <= 0:
        raise ValueError(f"empty range ({lo}, {hi})")
    bits, getrandbits = width.bit_length(), rng.getrandbits

    def draw() -> int:
        r = getrandbits(bits)
        while r >= width:
            r = getrandbits(bits)
        return lo + r

    return draw


CLEAN = LinkFaults()
"""A link that delivers every message exactly once, after the base latency."""


class Network:
    """Link state for every directed pair, and the per-message fate drawn from `rng`.

    Takes the shared `rng` and the base latency range `latency_ms` (inclusive
    integer milliseconds, drawn per copy, so messages may be reordered).
    """

    def __init__(self, rng: random.Random, latency_ms: tuple[int, int]) -> None:
        lo, hi = latency_ms
        if not 0 <= lo <= hi:
            raise ValueError(f"latency_ms must be (lo, hi) with 0 <= lo <= hi, got {latency_ms!r}")
        self.rng = rng
        self.latency_ms = latency_ms
        self.latency = uniform_ints(rng, lo, hi)
        """Draws one base latency (`rng.randint(*latency_ms)`)."""
        self.cut: dict[tuple[str, str], bool] = {}
        """Cut links, each mapped to whether it holds messages until heal (else loses them)."""
        self.faults: dict[tuple[str, str], LinkFaults] = {}
        self.heal_listeners: list[Callable[[], None]] = []

    # --- changing the links -------------------------------------------------

    def cut_link(self, src: str, dst: str, hold: bool = False) -> None:
        """Cuts the one directed link src → dst: what src sends dst is lost, or held if `hold`."""
        self.cut[(src, dst)] = hold

    def partition(self, *groups: Iterable[str], hold: bool = False) -> None:
        """Cuts both directions between every two nodes in different `groups` (see `cut_link`).

        Links inside a group, and links of nodes in no group, are left as they are.
        """
        sets = [sorted(set(g)) for g in groups]
        for i, a in enumerate(sets):
            for b in sets[i + 1 :]:
                for x in a:
                    for y in b:
                        self.cut[(x, y)] = self.cut[(y, x)] = hold

    def set_faults(self, src: str, dst: str, faults: LinkFaults) -> None:
        """Makes the directed link src → dst behave as `faults` (CLEAN resets it)."""
        if faults == CLEAN:
            self.faults.pop((src, dst), None)
        else:
            self.faults[(src, dst)] = faults

    def heal(self) -> None:
        """Reconnects every link, clears every link fault, then tells the heal listeners."""
        self.cut.clear()
        self.faults.clear()
        for listener in self.heal_listeners:
            listener()

    # --- asking about a message ---------------------------------------------

    def connected(self, src: str, dst: str) -> bool:
        """Whether src → dst is not cut."""
        return (src, dst) not in self.cut

    def holds(self, src: str, dst: str) -> bool:
        """Whether src → dst is cut and holds what is sent over it until heal."""
        return self.cut.get((src, dst), False)

    def fates(self, src: str, dst: str) -> list[int]:
        """The delays in ms of each copy of one message sent src → dst now.

        Empty when the message is lost (the link is cut and does not hold, or
        the drop chance hit); two entries when it is duplicated. Draws from
        the rng only for the probabilities that are set.
        """
        if not self.cut and not self.faults:  # every link clean: the common case
            return [self.latency()]
        if not self.connected(src, dst) and not self.holds(src, dst):
            return []
        f = self.faults.get((src, dst), CLEAN)
        if f.drop and self.rng.random() < f.drop:
            return []
        copies = 2 if f.duplicate and self.rng.random() < f.duplicate else 1
        return [self.latency() + f.delay_ms for _ in range(copies)]
