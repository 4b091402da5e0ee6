"""A cluster of node processes: write configs, start, stop, kill, pause, resume, wipe.

`LocalCluster` runs every node as its own OS process on 127.0.0.1, and keeps
its state (ports, pids) in `DIR/cluster.json`, so `sibyl cluster down` from
another process stops exactly the pids that `up` started. Each node has
`DIR/<name>/` holding its config, data and log.

How node A reaches node B is `addr_for(A, B)`: direct by default, or a fault
proxy when the nemesis meshes the cluster.
"""

from __future__ import annotations

import asyncio
import json
import random
import shlex
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.pids import pid_alive
from harness.remote import LocalRemote, Remote, RemoteError
from harness.shm import remove_shm
from node import auth
from node.client import Client, NodeError

Addr = tuple[str, int]
HOST = "127.0.0.1"


class ClusterError(RuntimeError):
    """A cluster that cannot be started, found or stopped; the message says which and why."""


def free_ports(count: int, host: str = HOST) -> list[int]:
    """`count` distinct ports that were free on `host` a moment ago.

    They are drawn below the kernel's ephemeral range when there is room: a node
    binds its port only when it starts (a spare much later), and meanwhile every
    port-0 bind (the mesh's proxies) and outgoing connection takes ephemeral ports,
    one of which could be a port handed out here. Below that range only an explicit
    bind can take it."""
    low = _ephemeral_low()
    pool = list(range(10_000, low)) if low - 10_000 >= 1_000 else []
    random.SystemRandom().shuffle(pool)
    socks: list[socket.socket] = []
    try:
        for port in pool:
            if len(socks) == count:
                break
            s = socket.socket()
            try:
                s.bind((host, port))
            except OSError:
                s.close()
                continue
            socks.append(s)
        while len(socks) < count:  # no room below the range: any free port
            s = socket.socket()
            s.bind((host, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out for port-0 binds (32768 if unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


@dataclass
class NodeProc:
    """One node: where it listens and, while running, its pid."""

    name: str
    port: int
    pid: int | None = None
    paused: bool = False


@dataclass
class LocalCluster:
    """Node processes on 127.0.0.1 under one directory."""

    dir: Path
    nodes: dict[str, NodeProc]
    settings: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    #: Extra environment per node name, applied on every start (e.g. libfaketime's file).
    node_env: dict[str, dict[str, str]] = field(default_factory=dict)
    started_pids: list[int] = field(default_factory=list)
    """Every pid this object started (restarts included), for cleanup after they are gone."""
    #: When set, each config lists only its own node plus these seeds (gossip discovers the rest).
    seed_nodes: list[str] = field(default_factory=list)
    #: Per node, other seeds than `seed_nodes` (e.g. spares that join through different seeds).
    node_seeds: dict[str, list[str]] = field(default_factory=dict)

    # --- creation and persistence -------------------------------------------

    @classmethod
    def create(
        cls, dir: str | Path, count: int, seed_nodes: Sequence[str] = (), **settings: Any
    ) -> LocalCluster:
        """Lays out `count` nodes (n1..nN) with free ports; `settings` go into every config.

        With `seed_nodes` (names), each config lists only its own node and those seeds'
        addresses; the nodes then find each other by gossip. Otherwise every config
        lists every node (a static membership)."""
        d = Path(dir).resolve()
        d.mkdir(parents=True, exist_ok=True)
        ports = free_ports(count)
        nodes = {f"n{i + 1}": NodeProc(f"n{i + 1}", ports[i]) for i in range(count)}
        cluster = cls(d, nodes, dict(settings), seed_nodes=list(seed_nodes))
        auth.write_secret(cluster.secret_file)
        cluster.write_configs()
        cluster.save()
        return cluster

    @classmethod
    def load(cls, dir: str | Path) -> LocalCluster:
        """Reads `DIR/cluster.json`; raises ClusterError if there is no cluster there."""
        path = Path(dir).resolve() / "cluster.json"
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ClusterError(
                f"no cluster at {path.parent} ({e}); run 'sibyl cluster up'"
            ) from None
        nodes = {n["name"]: NodeProc(**n) for n in raw["nodes"]}
        settings, env = raw.get("settings", {}), raw.get("env", {})
        cluster = cls(path.parent, nodes, settings, env, raw.get("node_env", {}))
        cluster.seed_nodes = list(raw.get("seed_nodes", []))
        return cluster

    def save(self) -> None:
        raw = {
            "nodes": [asdict(n) for n in self.nodes.values()],
            "settings": self.settings,
            "env": self.env,
            "node_env": self.node_env,
            "seed_nodes": self.seed_nodes,
        }
        tmp = self.dir / "cluster.json.tmp"
        tmp.write_text(json.dumps(raw, indent=2))
        tmp.replace(self.dir / "cluster.json")

    def node_dir(self, name: str) -> Path:
        return self.dir / name

    @property
    def secret_file(self) -> Path:
        """The cluster secret (0600), made with the cluster; every node's config names it."""
        return self.dir / "secret"

    def secret(self) -> bytes:
        """The cluster secret, for clients and the CLI (`Client.connect(..., secret=...)`)."""
        return auth.read_secret(self.secret_file)

    async def connect(self, name: str, timeout_s: float = 5.0) -> Client:
        """A client of node `name` that proves the cluster secret (if the cluster has one)."""
        secret = self.secret() if self.secret_file.exists() else None
        return await Client.connect(*self.addr(name), timeout_s=timeout_s, secret=secret)

    def addr(self, name: str) -> Addr:
        """Where clients reach `name` directly."""
        return (HOST, self.nodes[name].port)

    def write_configs(self, addr_for: Callable[[str, str], Addr] | None = None) -> None:
        """(Re)writes every node's config; `addr_for(src, dst)` picks how src reaches dst."""
        for name in self.nodes:
            self.write_config(name, addr_for)

    def write_config(
        self,
        name: str,
        addr_for: Callable[[str, str], Addr] | None = None,
        seed_nodes: Sequence[str] | None = None,
    ) -> None:
        """(Re)writes node `name`'s config: every node as members, or, with seed nodes
        (default `self.seed_nodes`), only itself plus the seeds' addresses."""
        route = addr_for or (lambda src, dst: self.addr(dst))
        if seed_nodes is None:
            seed_nodes = self.node_seeds.get(name, self.seed_nodes)
        if name in seed_nodes:  # a seed knows the seeds before it; the first one bootstraps
            seed_nodes = seed_nodes[: list(seed_nodes).index(name) + 1]
        nd = self.node_dir(name)
        listed = [name] if seed_nodes else list(self.nodes)
        members = [
            {"name": m, "addr": "{}:{}".format(*route(name, m)), "weight": 1} for m in listed
        ]
        seeds = [s if s == name else "{}:{}".format(*route(name, s)) for s in seed_nodes]
        # A routed cluster that joins by seeds still reaches every peer through its route
        # (a fault proxy), never at the address the peer gossips.
        routes = [{"name": m, "addr": "{}:{}".format(*route(name, m)), "weight": 1}
                  for m in self.nodes if m != name] if seed_nodes and addr_for else []  # fmt: skip
        cfg = {"name": name, "listen": "{}:{}".format(*self.addr(name)),
               "data_dir": str(nd / "data"), "secret_file": self._host_secret(name),
               **self.settings,
               **({"seeds": seeds} if seeds else {}), "members": members,
               **({"routes": routes} if routes else {})}  # fmt: skip
        self.write_host_file(name, nd / "node.toml", to_toml(cfg))

    def add_node(self, name: str | None = None, seed_nodes: Sequence[str] | None = None) -> str:
        """Lays out one more node (default name n<k+1>) with a free port, without starting it.

        Its config lists every node (static membership), or, with `seed_nodes` (default
        the cluster's own), only itself and those seeds; the running nodes' configs are
        left alone. The node joins the running cluster by gossip once started."""
        name = name or f"n{len(self.nodes) + 1}"
        if name in self.nodes:
            raise ClusterError(f"node {name} already exists in {self.dir}")
        self.nodes[name] = NodeProc(name, free_ports(1)[0])
        self.write_config(name, seed_nodes=seed_nodes)
        self.save()
        return name

    # --- the host's side: files, process states, logs -------------------------

    def remote_of(self, name: str) -> Remote:
        """The host node `name` runs on: this machine (a RemoteCluster: its SSH host)."""
        return LocalRemote(name)

    def python_of(self, name: str) -> str:
        """The interpreter that runs node `name` on its host."""
        return sys.executable

    def _host_secret(self, name: str) -> str:
        """Copies the cluster secret beside node `name`'s config on its host (0600, as the
        node requires); returns that path."""
        if not self.secret_file.exists():  # a cluster laid out on hosts makes it here
            self.dir.mkdir(parents=True, exist_ok=True)
            auth.write_secret(self.secret_file)
        path = self.node_dir(name) / "secret"
        self.write_host_file(name, path, self.secret().decode() + "\n")
        self.remote_of(name).run(f"chmod 600 {shlex.quote(str(path))}")
        return str(path)

    def write_host_file(self, name: str, path: Path, text: str) -> None:
        """Writes `text` to `path` on node `name`'s host, atomically (dirs made as needed)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.remote_of(name).write_file(str(path), text.encode())

    def running(self, name: str) -> bool:
        """True when node `name` has a live process (paused counts as live)."""
        pid = self.nodes[name].pid
        return pid is not None and self.remote_of(name).process_state(pid) is not None

    def stopped(self, name: str) -> bool:
        """True when node `name`'s process is stopped (SIGSTOP took effect) or gone."""
        pid = self.nodes[name].pid
        return pid is None or self.remote_of(name).process_state(pid) not in ("R", "S", "D")

    def release_shm(self, pid: int) -> bool:
        """Deletes libfaketime's shared-memory files of `pid` on the host once it is gone;
        False while it still runs."""
        return remove_shm(pid)

    def collect_logs(self, dest: Path) -> None:
        """Copies each node's log from its host to `dest/<node>.log`."""
        dest.mkdir(parents=True, exist_ok=True)
        for name in self.nodes:
            log = str(self.node_dir(name) / "node.log")
            try:
                self.remote_of(name).download(log, dest / f"{name}.log")
            except RemoteError:
                pass  # a node that never started has no log

    def close(self) -> None:
        """Releases connections to the hosts (none: every node is on this machine)."""

    # --- process control ----------------------------------------------------

    def start(self, name: str, env: Mapping[str, str] | None = None) -> int:
        """Starts node `name` as a daemon on its host, in its own session (environment:
        the host's, then `self.env`, then `self.node_env[name]`, then `env`; output
        appended to node.log); returns its pid."""
        proc = self.nodes[name]
        if proc.pid is not None and self.running(name):
            return proc.pid
        nd = self.node_dir(name)
        pid = self.remote_of(name).start_daemon(
            [self.python_of(name), "-m", "node", "--config", str(nd / "node.toml")],
            pid_file=str(nd / "node.pid"), log_file=str(nd / "node.log"),
            env={**self.env, **self.node_env.get(name, {}), **(env or {})},
        )  # fmt: skip
        proc.pid, proc.paused = pid, False
        self.started_pids.append(pid)
        self.save()
        return pid

    def start_all(self) -> None:
        for name in self.nodes:
            self.start(name)

    def signal(self, name: str, sig: signal.Signals) -> None:
        pid = self.nodes[name].pid
        if pid is not None:
            self.remote_of(name).signal(pid, sig)

    def kill(self, name: str) -> None:
        """kill -9 the node and wait until it is gone (the nemesis verifies that)."""
        pid = self.nodes[name].pid
        if pid is not None:
            self.remote_of(name).kill(pid, 5.0)
        self.nodes[name].pid = None
        self.save()

    def stop(self, name: str, timeout_s: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout_s`."""
        proc = self.nodes[name]
        if proc.pid is None:
            return
        remote = self.remote_of(name)
        if proc.paused:
            remote.signal(proc.pid, signal.SIGCONT)
        remote.signal(proc.pid, signal.SIGTERM)
        if not remote.wait_gone(proc.pid, timeout_s):
            remote.kill(proc.pid, 5.0)
        proc.pid, proc.paused = None, False
        self.save()

    def stop_all(self) -> None:
        for name in self.nodes:
            self.stop(name)

    def pause(self, name: str) -> None:
        self.signal(name, signal.SIGSTOP)
        self.nodes[name].paused = True
        self.save()

    def resume(self, name: str) -> None:
        self.signal(name, signal.SIGCONT)
        self.nodes[name].paused = False
        self.save()

    def wipe(self, name: str) -> None:
        """Deletes the node's data directory on its host (stop it first)."""
        data = shlex.quote(str(self.node_dir(name) / "data"))
        self.remote_of(name).run(f"rm -rf {data}").check(name, f"wiping {data}")

    async def wait_ready(self, names: list[str] | None = None, timeout_s: float = 20.0) -> None:
        """Waits until every named node answers a ping; raises ClusterError naming the laggards."""
        deadline = time.monotonic() + timeout_s
        for name in names or list(self.nodes):
            while True:
                try:
                    c = await self.connect(name, timeout_s=1.0)
                    await c.ping()
                    await c.close()
                    break
                except (OSError, TimeoutError, NodeError) as e:
                    # NodeError: a refusal from whatever holds the port (another test's node
                    # took it before ours bound it; ours then exits, and says so below).
                    self._raise_if_exited(name)
                    if time.monotonic() > deadline:
                        log = self.node_dir(name) / "node.log"
                        raise ClusterError(
                            f"node {name} not ready after {timeout_s}s ({e}); see {log}"
                        ) from None
                    await asyncio.sleep(0.05)

    def _raise_if_exited(self, name: str) -> None:
        """Raises ClusterError with the end of its log if node `name` is no longer running."""
        pid = self.nodes[name].pid
        if pid is None or pid_alive(pid):
            return
        log = self.node_dir(name) / "node.log"
        raise ClusterError(f"node {name} exited during start-up; the end of {log}:\n{tail(log, 8)}")


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a text file, indented (or a note that it cannot be read)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"    (cannot read it: {e.strerror})"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])


async def statuses(
    cluster: LocalCluster, names: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """The `status` debug call of every named (running) node, directly (not proxied)."""
    out = {}
    for name in names or list(cluster.nodes):
        c = await cluster.connect(name)
        try:
            out[name] = await c.status()
        finally:
            await c.close()
    return out


async def wait_one_ring(cluster: LocalCluster, names: list[str], timeout_s: float = 30.0) -> None:
    """Waits until every named node reports exactly `names` as members and the same
    ring (gossip has converged); raises ClusterError showing the views."""
    deadline = time.monotonic() + timeout_s
    while True:
        st = await statuses(cluster, names)
        views = {n: (sorted(s["members"]), s["ring"]) for n, s in st.items()}
        if all(v == views[names[0]] for v in views.values()) and views[names[0]][0] == sorted(
            names
        ):
            return
        if time.monotonic() > deadline:
            shown = {n: v[0] for n, v in views.items()}
            raise ClusterError(
                f"gossip did not converge on {sorted(names)} in {timeout_s}s: {shown}"
            )
        await asyncio.sleep(0.1)  # polling the views until gossip converges


def to_toml(d: Mapping[str, Any]) -> str:
    """A minimal TOML writer for flat configs plus one array of tables ("members")."""
    lines, tables = [], []
    for k, v in d.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {json.dumps(v)}")
    for k, rows in tables:
        for row in rows:
            lines.append(f"\n[[{k}]]")
            lines.extend(f"{rk} = {json.dumps(rv)}" for rk, rv in row.items())
    return "\n".join(lines) + "\n"
