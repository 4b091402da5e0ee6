"""`RemoteCluster`: one node per inventory host, controlled through that host's `Remote`.

It is a `LocalCluster` whose `remote_of(name)` is the host's SSH connection, so
the same host-side steps run there: configs and clock files are written with
`write_file`, nodes start with `start_daemon` (from the venv `harness.deploy`
installed), signals and kills go to the host, pause and death are verified in
the host's /proc, data directories are wiped with `rm`, and logs are downloaded
into the run directory at the end. It adds the per-host layout and runs starts
and stops on all hosts in parallel.

Each node lives in `<host dir>/node/` on its host: node.toml, data/, node.log,
node.pid, faketime. The node listens on the host's address at `node_port`.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.cluster import Addr, ClusterError, LocalCluster, NodeProc
from harness.inventory import HostSpec
from harness.remote import Remote


@dataclass
class RemoteCluster(LocalCluster):
    """Nodes on remote hosts; `dir` is the local run directory (cluster.json, logs)."""

    hosts: dict[str, HostSpec] = field(default_factory=dict)
    remotes: dict[str, Remote] = field(default_factory=dict)
    #: Every (node, pid) started, for cleanup on the right host after they are gone.
    pid_log: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def on_hosts(
        cls, dir: Path, hosts: Sequence[HostSpec], remotes: Sequence[Remote], **settings: Any
    ) -> RemoteCluster:
        """Lays out one node per host (named as the host) and writes every config. Each
        host's node directory starts empty: a run never sees an earlier run's data."""
        dir.mkdir(parents=True, exist_ok=True)
        nodes = {h.name: NodeProc(h.name, h.node_port) for h in hosts}
        cluster = cls(dir, nodes, dict(settings), hosts={h.name: h for h in hosts},
                      remotes={h.name: r for h, r in zip(hosts, remotes)})  # fmt: skip
        for name in cluster.nodes:
            nd = shlex.quote(str(cluster.node_dir(name)))
            cluster.remotes[name].run(f"rm -rf {nd} && mkdir -p {nd}").check(name, f"making {nd}")
        cluster.write_configs()
        cluster.save()
        return cluster

    def addr(self, name: str) -> Addr:
        host = self.hosts[name]
        return (host.address, host.node_port)

    def node_dir(self, name: str) -> Path:
        return Path(self.hosts[name].dir) / "node"

    def save(self) -> None:
        """The record stays in memory (a remote cluster is not reloaded from disk)."""

    def add_node(self, name: str | None = None, seed_nodes: Sequence[str] | None = None) -> str:
        raise ClusterError("a remote cluster has one node per inventory host; add a host")

    # --- the host's side ------------------------------------------------------------

    def remote_of(self, name: str) -> Remote:
        return self.remotes[name]

    def python_of(self, name: str) -> str:
        return f"{self.hosts[name].dir}/venv/bin/python"

    def write_host_file(self, name: str, path: Path, text: str) -> None:
        """Writes on the host (its node directory exists from `on_hosts`)."""
        self.remotes[name].write_file(str(path), text.encode())

    def release_shm(self, pid: int) -> bool:
        """Removes libfaketime's /dev/shm files of `pid` on the host that ran it, once
        it is gone there (pids are per host, so only hosts that ran it are asked)."""
        for name, remote in self.remotes.items():
            if pid in self._pids_of(name):
                if remote.process_state(pid) is not None:
                    return False
                remote.run(f"rm -f /dev/shm/faketime_shm_{pid} /dev/shm/sem.faketime_sem_{pid}")
        return True

    def _pids_of(self, name: str) -> list[int]:
        return [pid for n, pid in self.pid_log if n == name]

    def close(self) -> None:
        """Closes every host's connection."""
        for remote in self.remotes.values():
            remote.close()

    # --- processes: as LocalCluster's, through each host's Remote, hosts in parallel ---

    def start(self, name: str, env: Mapping[str, str] | None = None) -> int:
        pid = super().start(name, env)
        if (name, pid) not in self.pid_log:
            self.pid_log.append((name, pid))
        return pid

    def start_all(self) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self.start, self.nodes))

    def stop_all(self) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(self.stop, self.nodes))
