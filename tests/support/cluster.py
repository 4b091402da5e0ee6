"""Test helpers: a real local cluster in a temp dir, always stopped afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.cluster import LocalCluster
from harness.cluster import statuses as statuses  # re-exported for the tests
from node.client import Client
from node.ring import Member, Ring


@contextmanager
def running_cluster(
    tmp: Path, count: int = 5, env: dict[str, str] | None = None, **settings: Any
) -> Iterator[LocalCluster]:
    """Starts `count` node processes (with extra `env`); stops every one (by pid) on exit."""
    cluster = LocalCluster.create(tmp / "cluster", count, **settings)
    cluster.env.update(env or {})
    try:
        cluster.start_all()
        asyncio.run(cluster.wait_ready())
        yield cluster
    finally:
        cluster.stop_all()


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Awaits `check()` until it is true; fails the test if the deadline passes first."""
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, f"condition not met within {timeout_s}s"
        await asyncio.sleep(0.05)


async def ring_of(cluster: LocalCluster, via: str = "n1") -> Ring:
    """The ring as node `via` sees it (checked against the owners it reports)."""
    c = await Client.connect(*cluster.addr(via))
    try:
        status = await c.status()
    finally:
        await c.close()
    ring = Ring([Member(m) for m in status["members"]], len(status["ring"]))
    assert list(ring.owners) == status["ring"], "test's ring model disagrees with the node's"
    return ring


def keys_with_primary(ring: Ring, node: str, count: int, prefix: str, n: int = 3) -> list[str]:
    """`count` keys whose first `n` preference-list nodes include `node`."""
    out, i = [], 0
    while len(out) < count:
        key = f"{prefix}-{i}"
        if node in ring.preference_list(key, n):
            out.append(key)
        i += 1
    return out


async def local_values(cluster: LocalCluster, node: str, keys: list[str]) -> dict[str, list[bytes]]:
    """Each key's sibling values in `node`'s own replica (debug read, no repair)."""
    c = await Client.connect(*cluster.addr(node))
    try:
        return {k: sorted((await c.local_get(k))["siblings"]) for k in keys}
    finally:
        await c.close()
