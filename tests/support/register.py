"""A register workload against a real cluster, recorded as linearizability Operations."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from checkers.linearizable import UNKNOWN, Operation
from harness.cluster import LocalCluster
from node.client import Client, ConnectionLost, NodeError

FAR_FUTURE = 1 << 62


async def register_run(
    cluster: LocalCluster,
    key: str,
    seconds: float,
    clients: int = 4,
    seed: int = 0,
    nemesis: Callable[[], Awaitable[None]] | None = None,
) -> list[Operation]:
    """Concurrent reads and writes of unique values on `key` for `seconds`.

    A write that errors or times out is indeterminate (output UNKNOWN, open to
    the end); a read that errors is dropped (it changed nothing).
    """
    rng = random.Random(seed)
    names = list(cluster.nodes)
    history: list[Operation] = []
    counter = iter(range(1, 1 << 30))
    stop_at = time.monotonic() + seconds

    async def worker(cid: int) -> None:
        conn: Client | None = None
        while time.monotonic() < stop_at:
            if conn is None:
                try:
                    conn = await Client.connect(*cluster.addr(names[cid % len(names)]), 2.0)
                except (ConnectionError, TimeoutError):
                    names.append(names.pop(cid % len(names)))
                    await asyncio.sleep(0.05)
                    continue
            write = rng.random() < 0.5
            value = next(counter)
            call = time.monotonic_ns()
            try:
                if write:
                    await conn.put(key, str(value).encode(), timeout_s=2.0)
                    history.append(
                        Operation(cid, ("write", key, value), call, None, time.monotonic_ns())
                    )
                else:
                    sibs = (await conn.get(key, timeout_s=2.0)).siblings
                    got = int(sibs[0]) if sibs else None
                    history.append(
                        Operation(cid, ("read", key, None), call, got, time.monotonic_ns())
                    )
            except (NodeError, TimeoutError, ConnectionLost, OSError) as e:
                if write:
                    history.append(Operation(cid, ("write", key, value), call, UNKNOWN, FAR_FUTURE))
                if not isinstance(e, NodeError):
                    await conn.close()
                    conn = None
        if conn is not None:
            await conn.close()

    tasks = [worker(i) for i in range(clients)]
    if nemesis is not None:
        tasks.append(nemesis())
    await asyncio.gather(*tasks)
    return history
