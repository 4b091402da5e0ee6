"""Node status over time, after quiescence: what the liveness checker reads.

`record_statuses` asks every node for its `status` (down set, hint queues,
counters, ring view) and, per workload key, its local clock size and sibling
count, in `rounds` rounds `interval_s` apart, and records each answer as a
`status` checker op (extra: `round`, `status`). A node that does not answer is
recorded with `error`; the checker then treats it as down, not as a liveness
failure of its peers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

from harness.history import Recorder
from node.client import Client, NodeError

Addr = tuple[str, int]

#: Counters the liveness checker reads (the rest of `status` stays out of the history).
COUNTERS = ("ae_keys_sent", "ae_object_bytes_sent", "ae_exchanges", "hints_stored",
            "hints_delivered")  # fmt: skip
#: At most this many keys per node are sized per round.
MAX_KEYS = 200


async def record_statuses(
    rec: Recorder, addrs: dict[str, Addr], keys: Sequence[str], rounds: int, interval_s: float
) -> None:
    """`rounds` rounds of status snapshots of every node, `interval_s` apart."""
    for round_ in range(1, rounds + 1):
        if round_ > 1:
            await asyncio.sleep(interval_s)  # the spacing of the observations themselves
        snaps = await asyncio.gather(*(_snapshot(a, keys) for a in addrs.values()))
        for name, snap in zip(addrs, snaps):
            rec.checker_op("status", "", name, round=round_, **snap)


class StatusClient(Protocol):
    """What a snapshot asks of a node: a socket `node.client.Client` or the simulator's
    `node.sim.clients.SimClient` (sim liveness mode reads the same counters)."""

    async def status(self) -> dict[str, Any]: ...

    async def local_get(self, key: str) -> dict[str, Any]: ...


async def _snapshot(addr: Addr, keys: Sequence[str]) -> dict[str, Any]:
    try:
        client = await Client.connect(*addr, timeout_s=5.0, name="liveness")
    except (OSError, TimeoutError) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    try:
        return await snapshot(client, keys)
    finally:
        await client.close()


async def snapshot(client: StatusClient, keys: Sequence[str]) -> dict[str, Any]:
    """One node's status as the liveness checker reads it (or `error` when it did not
    answer)."""
    try:
        status = await client.status()
        sizes = {k: await _key_size(client, k) for k in list(keys)[:MAX_KEYS]}
    except (NodeError, OSError, TimeoutError) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    counters = status.get("counters", {})
    return {"status": {
        "down": list(status.get("down", [])),
        "hints": dict(status.get("hints", {})),
        "counters": {c: int(counters.get(c, 0)) for c in COUNTERS},
        "in_flight": int(status.get("in_flight", 0)),
        "members": list(status.get("members", [])),
        "ring": _digest(status.get("ring", [])),
        "keys": {k: v for k, v in sizes.items() if v[1]},
    }}  # fmt: skip


async def _key_size(client: StatusClient, key: str) -> list[int]:
    """[clock entries, siblings] of this node's local copy of `key`."""
    r = await client.local_get(key)
    clock = r.get("clock", {}).get("clock", {})
    return [len(clock), len(r.get("siblings", []))]


def _digest(ring: list[Any]) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(ring).encode()).hexdigest()[:16]
