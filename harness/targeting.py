"""Faults aimed at a key: its primaries, found by ring position through the debug API.

A process fault (kill, pause, crash, wipe) may carry `key` and `scope` instead of
targets: the nemesis asks a running node for the key's preference list in its
own ring view (the `preference_lists` debug call: the harness never models the
ring) and takes its N nodes (`scope` all) or a majority of them (`scope`
majority). The realised fault records the nodes, so a replay hits the same ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from node.client import Client, NodeError

Addr = tuple[str, int]


class Scope(StrEnum):
    """How many of a key's primaries a key-targeted fault hits."""

    MAJORITY = "majority"
    ALL = "all"


async def primaries(addrs: Sequence[Addr], key: str, n: int, scope: str) -> tuple[str, ...]:
    """The key's primaries (all, or the first majority) by the ring view of the first
    node in `addrs` that answers; raises OSError when none does."""
    for addr in addrs:
        try:
            client = await Client.connect(*addr, timeout_s=2.0, name="nemesis-ring")
        except (OSError, TimeoutError):
            continue
        try:
            walk = (await client.preference_lists([key]))[key][:n]
        except (OSError, TimeoutError, NodeError):
            continue
        finally:
            await client.close()
        count = len(walk) if scope == Scope.ALL else len(walk) // 2 + 1
        return tuple(sorted(walk[:count]))
    raise OSError(f"no node answered a ring request for key {key!r}")
