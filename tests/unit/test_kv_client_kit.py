"""The KVClient conformance kit on the simulator: `SimClient` passes it, a client that
hides a down node does not."""

from __future__ import annotations

import pytest

from node.client import GetResult
from node.sim.clients import Scheduler, SimClient
from node.sim.cluster import SimConfig, Simulator
from tests.support.kv_client_kit import SETTINGS, check_kv_client
from workloads.base import KVClient


class SimWhere:
    """The kit's cluster: a 3-node simulator, a `SimClient` per node."""

    def __init__(self, seed: int, client: type[SimClient] = SimClient) -> None:
        self.sim = Simulator(seed, SimConfig(nodes=3, settings=SETTINGS))
        self.make = client

    async def client(self, node: str) -> KVClient:
        return self.make(node)

    async def crash(self, node: str) -> None:
        self.sim.crash(node)


def run_kit(where: SimWhere) -> None:
    sched = Scheduler(where.sim)
    sched.spawn(check_kv_client(where))
    sched.run()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_simulators_client_passes_the_kit(seed: int) -> None:
    run_kit(SimWhere(seed))


class HidesDownNodes(SimClient):
    """A client that reads a key it cannot reach as empty (it swallows the lost request)."""

    async def get(self, key: str) -> GetResult:
        try:
            return await super().get(key)
        except ConnectionError:
            return GetResult([], b"", self.node)


def test_the_kit_fails_a_client_that_hides_a_down_node() -> None:
    with pytest.raises(AssertionError, match="down succeeded"):
        run_kit(SimWhere(1, HidesDownNodes))
