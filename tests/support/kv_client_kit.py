"""`check_kv_client(where)`: the conformance kit of the `KVClient` seam (workloads.base).

A workload talks to a node through a `KVClient`: `node.client.Client` over TCP
on real processes, `node.sim.clients.SimClient` on the simulator. Both must
behave alike, or a workload checked on one means nothing on the other. The
kit needs a fresh cluster of 3 nodes (n1..n3; n = 3, r = w = 2, siblings) and
checks, through each node's client: a missing key reads as no siblings; a
write is read back with a context; a write with that context supersedes; two
blind writes through different nodes become siblings; a request the node
refuses raises `NodeError` with the node's code; once a node is down a call
through it raises one of the `INDETERMINATE` exceptions (nobody knows whether
it landed) while the others still answer; and with two nodes down a write
that cannot reach W replicas fails with `NodeError`.

The kit only awaits the client and `where`, so it runs on asyncio and on the
simulator's scheduler alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from node.client import NodeError
from node.protocol import MAX_KEY_BYTES
from workloads.base import INDETERMINATE, KVClient

NODES = ("n1", "n2", "n3")
SETTINGS = {"n": 3, "r": 2, "w": 2, "conflict": "siblings", "request_timeout_ms": 1000}
"""The node settings of the kit's cluster."""


class KVWhere(Protocol):
    """Where the clients run: one client per node, and a way to take a node down."""

    async def client(self, node: str) -> KVClient: ...

    async def crash(self, node: str) -> None: ...


async def check_kv_client(where: KVWhere) -> None:
    """Runs every check; an AssertionError names the first that fails."""
    c1, c2, c3 = [await where.client(n) for n in NODES]
    await _missing_key(c1)
    await _read_your_write(c1, c2)
    await _blind_writes_are_siblings(c1, c2, c3)
    await _refusal_is_a_node_error(c2)
    await where.crash("n3")
    await _down_node_is_indeterminate(c3, c1)
    await where.crash("n2")
    await _write_without_quorum_fails(c1)


async def _missing_key(c: KVClient) -> None:
    got = await c.get("kit-missing")
    assert got.siblings == [], got
    assert isinstance(got.context, bytes)
    assert got.node == "n1", f"the coordinator's name, got {got.node!r}"


async def _read_your_write(c1: KVClient, c2: KVClient) -> None:
    await c1.put("kit-a", b"one")
    got = await c2.get("kit-a")  # R + W > N: another coordinator sees it
    assert got.siblings == [b"one"] and got.context, got
    await c2.put("kit-a", b"two", got.context)
    again = await c1.get("kit-a")
    assert again.siblings == [b"two"], f"a write with the read's context supersedes: {again}"
    assert again.context != got.context


async def _blind_writes_are_siblings(c1: KVClient, c2: KVClient, c3: KVClient) -> None:
    await c1.put("kit-b", b"left")
    await c2.put("kit-b", b"right")  # no context: concurrent with "left"
    got = await c3.get("kit-b")
    assert sorted(got.siblings) == [b"left", b"right"], got
    await c3.put("kit-b", b"merged", got.context)
    assert (await c1.get("kit-b")).siblings == [b"merged"]


async def _refusal_is_a_node_error(c: KVClient) -> None:
    try:
        await c.get("k" * (MAX_KEY_BYTES + 1))
    except NodeError as e:
        assert e.code == "too_large", e
    else:
        raise AssertionError("a key over the limit was served")
    assert (await c.get("kit-a")).siblings == [b"two"], "the client still works after a refusal"


async def _down_node_is_indeterminate(down: KVClient, up: KVClient) -> None:
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: down.get("kit-a"),
        lambda: down.put("kit-c", b"x"),
    ]
    for call in calls:
        try:
            await call()
        except INDETERMINATE:
            pass
        else:
            raise AssertionError("a call through a node that is down succeeded")
    assert (await up.get("kit-a")).siblings == [b"two"], "R = 2 of 3 still reads"


async def _write_without_quorum_fails(c: KVClient) -> None:
    try:
        await c.put("kit-d", b"alone")
    except NodeError as e:
        assert e.code == "unavailable", e
    else:
        raise AssertionError("a write reached W = 2 with one node up")
