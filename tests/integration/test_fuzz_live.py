"""A bounded fuzz of a live 3-node cluster from fake peers and clients, with and without the
cluster secret (issue 16): afterwards every node answers, the ring views are the same, every
write acknowledged before the fuzz reads back exactly once, and no node logged an unhandled
exception. benchmarks/fuzz_node.py runs the long version."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.cluster import running_cluster
from tests.support.livefuzz import fuzz_cluster, violations, write_keys


def test_a_live_cluster_survives_a_fuzz_from_fake_peers_and_clients(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 3, gossip_interval_ms=100) as cluster:

        async def go() -> list[str]:
            keys = await write_keys(cluster, 30)
            assert len(keys) >= 10, keys  # most writes are acknowledged
            await fuzz_cluster(cluster, keys, messages=4000, connections=8, seed=16)
            return await violations(cluster, keys)

        assert asyncio.run(go()) == []
