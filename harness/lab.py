"""The local lab: node processes on 127.0.0.1, the fault-proxy mesh, clocks and the nemesis.

`Lab.start` brings everything up in one run directory and `Lab.stop` takes it
all down again, by pid, whatever happened in between. Without faults the lab
skips the mesh, so clients talk to the nodes directly.
"""

from __future__ import annotations

import os
import random
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.clock import remove_shm
from harness.cluster import LocalCluster
from node.client import SECRET_ENV

Addr = tuple[str, int]


@dataclass
class Lab:
    """Everything a run started, so that it can all be stopped."""

    cluster: LocalCluster
    mesh: Any = None
    clock: Any = None
    nemesis: Any = None

    @classmethod
    async def start(
        cls,
        dir: Path,
        nodes: int,
        settings: Mapping[str, Any],
        kinds: Sequence[str],
        seed: int,
        env: Mapping[str, str] | None = None,
    ) -> Lab:
        """Creates and starts the cluster (meshed when there are faults); waits until it answers.

        Every request to a lab node must prove the cluster's secret (`require_client_auth`);
        the lab's clients in this process find it through `SIBYL_SECRET_FILE` until `stop`.
        """
        cluster = LocalCluster.create(dir, nodes, **{"require_client_auth": True, **settings})
        cluster.env.update(env or {})
        os.environ[SECRET_ENV] = str(cluster.secret_file)
        lab = cls(cluster)
        try:
            if kinds:
                await lab._start_faults(kinds, seed)
            cluster.start_all()
            if lab.clock is not None:
                lab.clock.track()
            await cluster.wait_ready()
        except BaseException:
            await lab.stop()
            raise
        return lab

    async def _start_faults(self, kinds: Sequence[str], seed: int) -> None:
        from harness.clock import ClockControl
        from harness.mesh import Mesh
        from harness.nemesis import Nemesis

        self.mesh = await Mesh.start(self.cluster)
        if "clock" in kinds:
            self.clock = ClockControl(self.cluster)
        self.nemesis = Nemesis(
            self.cluster, self.mesh, self.clock, random.Random(f"{seed}/nemesis")
        )

    def client_addrs(self) -> dict[str, Addr]:
        """How clients reach each node: through its client proxy when meshed."""
        if self.mesh is not None:
            return {n: self.mesh.client_addr(n) for n in self.cluster.nodes}
        return self.direct_addrs()

    def direct_addrs(self) -> dict[str, Addr]:
        return {n: self.cluster.addr(n) for n in self.cluster.nodes}

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
                        remove_shm(pid)
                if self.mesh is not None:
                    await self.mesh.stop()
            if os.environ.get(SECRET_ENV) == str(self.cluster.secret_file):
                del os.environ[SECRET_ENV]  # the heal's probes above still proved it

    def collect_logs(self, dest: Path) -> None:
        """Copies each node's log to `dest/<node>.log`."""
        dest.mkdir(parents=True, exist_ok=True)
        for name in self.cluster.nodes:
            log = self.cluster.node_dir(name) / "node.log"
            if log.exists():
                shutil.copyfile(log, dest / f"{name}.log")
