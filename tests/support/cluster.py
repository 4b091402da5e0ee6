"""Test helpers: a real local cluster in a temp dir, always stopped afterwards."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.cluster import LocalCluster


@contextmanager
def running_cluster(tmp: Path, count: int = 5, **settings: Any) -> Iterator[LocalCluster]:
    """Starts `count` node processes; stops every one of them (by pid) on exit."""
    cluster = LocalCluster.create(tmp / "cluster", count, **settings)
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
