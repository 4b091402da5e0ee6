"""The KVClient conformance kit on real node processes: `node.client.Client` over TCP
on loopback passes it (the simulator's client passes it in tests/unit)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from harness.cluster import LocalCluster
from node.client import Client
from tests.support.cluster import running_cluster
from tests.support.kv_client_kit import SETTINGS, check_kv_client
from workloads.base import KVClient


class RealWhere:
    """The kit's cluster: 3 node processes, a TCP client per node, kill -9 to crash one."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.clients: list[Client] = []

    async def client(self, node: str) -> KVClient:
        c = await Client.connect(*self.cluster.addr(node), timeout_s=10.0)
        self.clients.append(c)
        return c

    async def crash(self, node: str) -> None:
        await asyncio.to_thread(self.cluster.kill, node)

    async def close(self) -> None:
        for c in self.clients:
            await c.close()


def test_the_tcp_client_passes_the_kit(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 3, **SETTINGS) as cluster:
        where = RealWhere(cluster)

        async def go() -> None:
            try:
                await check_kv_client(where)
            finally:
                await where.close()

        asyncio.run(go())
