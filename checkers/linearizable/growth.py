"""The growth reduction: a state that no pending read can grow into is a dead end.

A model's `grows` hint names the operations that only move the state forward
(kv: gets and appends), `grows_into(state, input, output)` says whether a read
may still become legal from `state` through them (kv: the state begins the
string the get saw), and `resets_to` the one state an operation that does not
grow leaves (kv: a put's string). In a linearization, only the operations
called before a read returns can come before it. So when every such pending
operation grows, or resets to a known state, a state from which neither it
nor those reset states can grow into what the read saw has no future: the
search drops it (`dead`) instead of caching it and trying every order of the
operations before the read, most of which a get of appends refutes at once.

It works on the search's entry arrays (see search.py): `ret[k]` is a call
entry's return entry (> 0), 0 for a return, -1 for an optional op's return;
`meta[k]` a call entry's (twin, input, output, bit, read-only) tuple.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from checkers.linearizable.model import UNKNOWN, Model

_UNKNOWN: Final = UNKNOWN  # a constant of this module: the mypyc build reads it fast

WALK: Final = 32
"""Entries `dead` walks at most: it checks the first pending reads to return, and
stays O(1) a step where reads are rare. On Porcupine's kv c50 histories, 32 found
as many dead ends as 128, at a quarter of the cost; 16 found fewer."""


@dataclass(slots=True)
class Growth:
    """What `dead` needs, per entry of one partition's search.

    `seen[r]`: the input and output of the read returning at entry `r` (None
    for any other entry, or a read whose outcome is unknown); `resets[c]`: the
    op called at entry `c` may not grow the state, and `posts[c]` the state it
    leaves (`resets_to`, or UNKNOWN). Optional ops' calls are off the main
    list: reads returning after `floor`, the first optional reset's call, are
    never checked.
    """

    grows_into: Callable[[Any, Any, Any], bool]
    seen: list[tuple[Any, Any] | None]
    resets: list[bool]
    posts: list[Any]
    floor: int


def thread_growth(
    model: Model, meta: list[tuple[int, Any, Any, int, bool | None]], ret: list[int], size: int
) -> Growth | None:
    """The growth notes of a partition's entries, or None when the model has no
    growth hints (or a custom equality: states travel wrapped) or no read to check."""
    grows, grows_into, resets_to = model.grows, model.grows_into, model.resets_to
    if grows is None or grows_into is None or model.custom_equality:
        return None
    seen: list[tuple[Any, Any] | None] = [None] * size
    resets = [False] * size
    posts: list[Any] = [_UNKNOWN] * size
    floor, reads = size, False
    for k in range(1, size):
        m = ret[k]
        if m <= 0:
            continue
        twin, inp, out, b, ro = meta[k]
        if ro:  # keeps the state: grows, by the definition
            if out is not _UNKNOWN:
                seen[m] = (inp, out)
                reads = True
        elif not grows(inp, out):
            resets[k] = True
            if resets_to is not None:
                posts[k] = resets_to(inp, out)
            if ro is None:
                floor = min(floor, k)
    return Growth(grows_into, seen, resets, posts, floor) if reads else None


def dead(g: Growth, nxt: list[int], tail: int, ret: list[int], state: Any, e: int, m: int) -> bool:
    """True if `state` cannot grow into what a pending read saw.

    Walks the main list from its head (without `e`, just linearized, and its
    return `m`) up to the first call of an op that resets to no known state.
    Only the ops called before a read returns can come before it: growing
    ones, or resets to the states in `bases` (called earlier in the walk), so
    `grows_into` must allow the read from `state` or from one of those.
    """
    seen, resets, posts, grows_into, floor = g.seen, g.resets, g.posts, g.grows_into, g.floor
    bases: list[Any] | None = None  # made at the first reset: most walks meet none
    x = nxt[0]
    for _ in range(WALK):
        if x == tail:
            return False
        r = ret[x]
        if r > 0:
            if resets[x] and x != e:
                base = posts[x]
                if base is _UNKNOWN:
                    return False
                if bases is None:
                    bases = [base]
                else:
                    bases.append(base)
        elif r < 0 or x > floor:
            return False
        elif x != m:
            read = seen[x]
            if read is not None and not grows_into(state, read[0], read[1]):
                if bases is None:
                    return True
                for base in bases:  # a loop, not any(): no generator a check
                    if grows_into(base, read[0], read[1]):
                        break
                else:
                    return True
        x = nxt[x]
    return False
