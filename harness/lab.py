"""The local lab: node processes on 127.0.0.1, the fault-proxy mesh, clocks and the nemesis.

`Lab.start` brings everything up in one run directory and `Lab.stop` takes it
all down again, by pid, whatever happened in between. Without faults the lab
skips the mesh, so clients talk to the nodes directly.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cluster import LocalCluster, wait_one_ring
from node.client import SECRET_ENV

Addr = tuple[str, int]


@dataclass
class Lab:
    """Everything a run started, so that it can all be stopped."""

    cluster: LocalCluster
    mesh: Any = None
    clock: Any = None
    nemesis: Any = None
    disks: dict[str, Any] = field(default_factory=dict)  # node -> LazyMount (crash faults)
    spares: list[str] = field(default_factory=list)  # laid out for join faults, not started

    @classmethod
    async def start(
        cls,
        dir: Path,
        nodes: int,
        settings: Mapping[str, Any],
        kinds: Sequence[str],
        seed: int,
        env: Mapping[str, str] | None = None,
        *,
        seeds: int = 0,
        spares: int = 0,
    ) -> Lab:
        """Creates and starts the cluster (meshed when there are faults); waits until it answers.

        With `seeds` > 0 each config names only itself and the first `seeds` nodes, and
        this waits until gossip has given every node the same ring. `spares` more
        nodes are laid out (configured, meshed) but not started: join faults use them.
        Every request to a lab node must prove the cluster's secret (`require_client_auth`);
        the lab's clients in this process find it through `SIBYL_SECRET_FILE` until `stop`.
        """
        names = [f"n{i + 1}" for i in range(nodes + spares)]
        cluster = LocalCluster.create(dir, nodes + spares, seed_nodes=names[:seeds],
                                      **{"require_client_auth": True, **settings})  # fmt: skip
        for i, spare in enumerate(names[nodes:] if seeds > 1 else []):
            cluster.node_seeds[spare] = [names[i % seeds]]  # spares join via different seeds
            cluster.write_config(spare)
        cluster.env.update(env or {})
        os.environ[SECRET_ENV] = str(cluster.secret_file)
        lab = cls(cluster, spares=names[nodes:])
        active = names[:nodes]
        try:
            if kinds:
                await lab._start_faults(kinds, seed)
                lab.nemesis.membership.set_up(active, lab.spares, names[:seeds])
            for name in active:
                cluster.start(name)
            if lab.clock is not None:
                lab.clock.track()
            await cluster.wait_ready(active)
            if seeds:
                await wait_one_ring(cluster, active)
        except BaseException:
            await lab.stop()
            raise
        return lab

    async def _start_faults(self, kinds: Sequence[str], seed: int) -> None:
        from harness.clock import ClockControl
        from harness.mesh import Mesh
        from harness.nemesis import Nemesis

        self.mesh = await Mesh.start(self.cluster, seed=seed)  # jitter, toxicity, slices
        if "clock" in kinds:
            self.clock = ClockControl(self.cluster)
        self.nemesis = Nemesis(
            self.cluster, self.mesh, self.clock, random.Random(f"{seed}/nemesis")
        )
        if "crash" in kinds:
            from harness.lazyfs_control import mount_all

            self.disks = await asyncio.to_thread(mount_all, self.cluster)
            self.nemesis.disks = self.disks

    def client_addrs(self) -> dict[str, Addr]:
        """How clients reach each node: through its client proxy when meshed."""
        if self.mesh is not None:
            return {n: self.mesh.client_addr(n) for n in self.active()}
        return self.direct_addrs()

    def direct_addrs(self) -> dict[str, Addr]:
        return {n: self.cluster.addr(n) for n in self.active()}

    def active(self) -> list[str]:
        """The nodes clients use: every node but the spares."""
        return [n for n in self.cluster.nodes if n not in self.spares]

    async def stop(self, keep_cluster: bool = False) -> None:
        """Heals, then stops every process the lab started (unless `keep_cluster`)."""
        try:
            if self.nemesis is not None:
                await self.nemesis.heal_all()
        finally:  # a heal that fails must not leave processes behind
            if not keep_cluster:
                self.cluster.stop_all()
                if self.clock is not None:
                    self.clock.cleanup()  # libfaketime's /dev/shm files of the stopped pids
                    for pid in self.cluster.started_pids:  # and of any restart it missed
                        self.cluster.release_shm(pid)
                if self.mesh is not None:
                    await self.mesh.stop()
                for disk in self.disks.values():  # after the nodes that used them
                    await asyncio.to_thread(disk.stop)
            if os.environ.get(SECRET_ENV) == str(self.cluster.secret_file):
                del os.environ[SECRET_ENV]  # the heal's probes above still proved it

    def close(self) -> None:
        """Closes the connections to the lab's hosts (call after `collect_logs`)."""
        self.cluster.close()

    def collect_logs(self, dest: Path) -> None:
        """Copies each node's log to `dest/<node>.log` (from its host)."""
        self.cluster.collect_logs(dest)
