"""The proxy mesh: one Toxiproxy proxy per directed link of a local cluster.

For N nodes the mesh holds N·(N-1) node links ("n1->n2": listens on a free
loopback port, forwards to n2's real port) and N client links ("client->n2").
`Mesh.create` writes every node's config so that node A reaches peer B through
proxy "A->B". A node sends requests and replies to a peer on its own outbound
connection, so a toxic on "n1->n2" affects only what n1 says to n2: partitions
can be one-way.

A toxic's upstream stream carries what the link's source sends; its downstream
carries the little that comes back on the same connection (the hello, and for
client links the node's replies).

Cutting a link in "hold" mode adds a `bandwidth` toxic with rate 0 to both
streams: the proxy keeps every connection open and passes nothing (new
connections are accepted and then go silent too). That is what a short
dropped-packets partition (iptables DROP) looks like to a node: sends succeed,
no reply ever comes, no RST tells it anything, and requests time out. On heal
the held bytes flow, as TCP retransmission would deliver them. In "drop" mode
(a lossy link) a `timeout` toxic drops what is sent and the connections are
closed at the heal: what was sent during the cut never arrives. "reset" also
resets the live connections at the cut. Disabling the
proxy instead would refuse connections at once (a milder REJECT-style fault
that tells nodes their peer is gone) and would release the listening port.

Toxics are named `<tag>-<what>-<stream>`, where the tag belongs to one fault,
so two faults on the same link stack and each removes only its own.

The mesh starts its own Toxiproxy server (`harness.toxiproxy.launcher`,
the real `toxiproxy-server` when it is on PATH) and `close()` stops exactly
that pid. Its methods block on HTTP; call them from asyncio via
`asyncio.to_thread`. The probes at the bottom are coroutines.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from harness import ping
from harness.cluster import HOST, Addr, ClusterError, LocalCluster, pid_alive
from harness.partitions import Link, PartitionMode
from harness.toxiproxy import (
    NotFound,
    ProxyInfo,
    ServerProcess,
    Stream,
    ToxicKind,
    ToxiproxyClient,
    start_server,
)
from node.client import Client

K = TypeVar("K", str, Link)

#: The source name of client links ("client->n2").
CLIENT = "client"
BOTH_STREAMS = (Stream.UPSTREAM, Stream.DOWNSTREAM)


def proxy_name(link: Link) -> str:
    """The proxy that carries `link`: "n1->n2" or "client->n2"."""
    return f"{link[0]}->{link[1]}"


@dataclass
class Mesh:
    """A running Toxiproxy server holding one proxy per directed link of `cluster`."""

    cluster: LocalCluster
    server: ServerProcess
    proxies: dict[Link, ProxyInfo]

    @classmethod
    def create(
        cls, cluster: LocalCluster, *, seed: int | None = None, log_path: Path | None = None
    ) -> Mesh:
        """Starts a server, creates every node and client proxy, and rewrites the node
        configs to route through them. Run before the nodes start; nodes added later
        are not meshed. A cluster with seed nodes is meshed too: each config then
        lists only itself and the seeds as members, plus a `routes` table that sends
        every peer through its proxy (gossiped addresses would bypass the proxies).
        On failure the server is stopped again."""
        running = [n for n, p in cluster.nodes.items() if p.pid is not None and pid_alive(p.pid)]
        if running:
            raise ClusterError(
                f"mesh the cluster before starting its nodes; running now: {running}"
            )
        server = start_server(seed=seed, log_path=log_path or cluster.dir / "toxiproxy.log")
        try:
            proxies = {
                link: server.client.create_proxy(
                    proxy_name(link), "{}:{}".format(*cluster.addr(link[1])), f"{HOST}:0"
                )
                for link in all_links(list(cluster.nodes))
            }
            mesh = cls(cluster, server, proxies)
            cluster.write_configs(addr_for=mesh.addr_for)
        except BaseException:
            server.stop()
            raise
        return mesh

    @classmethod
    async def start(
        cls, cluster: LocalCluster, *, seed: int | None = None, log_path: Path | None = None
    ) -> Mesh:
        """`create` from asyncio (the HTTP calls run in a thread)."""
        return await asyncio.to_thread(cls.create, cluster, seed=seed, log_path=log_path)

    async def stop(self) -> None:
        """`close` from asyncio."""
        await asyncio.to_thread(self.close)

    @property
    def client(self) -> ToxiproxyClient:
        return self.server.client

    # --- addresses -----------------------------------------------------------

    def link_addr(self, link: Link) -> Addr:
        """Where the proxy of `link` listens."""
        return (HOST, self.proxies[link].listen_port)

    def addr_for(self, src: str, dst: str) -> Addr:
        """How node `src` reaches `dst`: itself directly, a peer through "src->dst"."""
        return self.cluster.addr(dst) if src == dst else self.link_addr((src, dst))

    def client_addr(self, name: str) -> Addr:
        """Where clients reach node `name` through its "client->name" proxy."""
        return self.link_addr((CLIENT, name))

    def links(self) -> list[Link]:
        """Every link the mesh carries (node and client links), sorted."""
        return sorted(self.proxies)

    async def answers(self, link: Link, timeout_s: float) -> bool:
        """Does a ping sent through `link`'s proxy get an answer within `timeout_s`?"""
        return await answers(self.link_addr(link), timeout_s)

    async def ping_s(self, link: Link, timeout_s: float) -> float:
        """Seconds one ping through `link`'s proxy takes; raises when unanswered."""
        return await ping_s(self.link_addr(link), timeout_s)

    def node_links(self) -> list[Link]:
        """Every node-to-node link, sorted."""
        return sorted(link for link in self.proxies if link[0] != CLIENT)

    # --- toxics (blocking) ---------------------------------------------------

    def cut(self, links: Iterable[Link], tag: str, mode: str = PartitionMode.HOLD) -> None:
        """Black-holes each link in both streams under `tag` (see the module docstring).

        `mode` hold: a `bandwidth` 0 toxic keeps what is sent and delivers it at the
        heal. drop: a `timeout` 0 toxic drops it, and removing the toxic closes the
        connections at the heal (Toxiproxy's semantics): what was sent is lost.
        reset: as drop, and the proxy is also disabled and enabled again so every
        live connection is reset at the cut."""
        lossy = mode in (PartitionMode.DROP, PartitionMode.RESET)
        kind, attrs = (ToxicKind.TIMEOUT, {"timeout": 0}) if lossy else (
            ToxicKind.BANDWIDTH, {"rate": 0})  # fmt: skip
        for link in sorted(links):
            for stream in BOTH_STREAMS:
                self.client.add_toxic(
                    proxy_name(link), kind, name=f"{tag}-cut-{stream}",
                    stream=stream, attributes=attrs,
                )  # fmt: skip
            if mode == PartitionMode.RESET:
                self.client.disable(proxy_name(link))
                self.client.enable(proxy_name(link))

    def add_toxic(
        self, links: Iterable[Link], tag: str, kind: ToxicKind, attributes: Mapping[str, int]
    ) -> None:
        """Adds a toxic of `kind` under `tag` to the upstream stream (what the source
        sends) of each link."""
        for link in sorted(links):
            self.client.add_toxic(
                proxy_name(link), kind, name=f"{tag}-{kind}-{Stream.UPSTREAM}",
                stream=Stream.UPSTREAM, attributes=dict(attributes),
            )  # fmt: skip

    def remove_tagged(self, tag: str, links: Iterable[Link] | None = None) -> None:
        """Removes every toxic of `tag` from `links` (default: every proxy). Idempotent."""
        for link in sorted(self.proxies if links is None else links):
            for toxic in self.client.toxics(proxy_name(link)):
                if toxic.name.startswith(f"{tag}-"):
                    with contextlib.suppress(NotFound):
                        self.client.remove_toxic(proxy_name(link), toxic.name)

    def tagged(self, tag: str, links: Iterable[Link]) -> dict[Link, bool]:
        """For each link: does its proxy carry a toxic of `tag`?"""
        proxies = self.client.proxies()
        prefix = f"{tag}-"
        return {
            link: any(t.name.startswith(prefix) for t in proxies[proxy_name(link)].toxics)
            for link in sorted(links)
        }

    def reset(self) -> None:
        """Removes every toxic and enables every proxy."""
        self.client.reset()

    def dirty(self) -> dict[str, list[str]]:
        """Proxies that are not clean: name -> their toxics' names ("disabled" if so).
        Empty when every proxy passes traffic untouched."""
        out: dict[str, list[str]] = {}
        for name, info in self.client.proxies().items():
            problems = [t.name for t in info.toxics] + ([] if info.enabled else ["disabled"])
            if problems:
                out[name] = problems
        return out

    # --- lifetime --------------------------------------------------------------

    def close(self) -> None:
        """Stops the server process (by its pid). The nodes' configs keep pointing
        at the proxies, so stop the nodes first."""
        self.server.stop()

    def __enter__(self) -> Mesh:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def all_links(nodes: list[str]) -> list[Link]:
    """Every directed node pair, then a client link to every node."""
    pairs = [(a, b) for a in nodes for b in nodes if a != b]
    return pairs + [(CLIENT, b) for b in nodes]


# --- probes: does a real protocol exchange get through? ------------------------


async def answers(addr: Addr, timeout_s: float) -> bool:
    """True when a node reached at `addr` completes the hello and answers a ping
    within `timeout_s` in all; False on silence, refusal or a closed connection."""
    try:
        async with asyncio.timeout(timeout_s):
            client = await Client.connect(*addr, timeout_s=timeout_s, name="nemesis-probe")
            try:
                await client.ping()
            finally:
                await client.close()
    except (OSError, TimeoutError):
        return False
    return True


async def ping_s(addr: Addr, timeout_s: float) -> float:
    """Seconds one ping takes to `addr` on an established connection (the hello is
    not counted); raises TimeoutError/OSError when there is no answer."""
    return await ping.ping_s(*addr, timeout_s)


async def wait_answers(addr: Addr, deadline_s: float, attempt_s: float = 1.0) -> bool:
    """Probes `addr` until it answers or `deadline_s` seconds have passed."""
    deadline = time.monotonic() + deadline_s
    while True:
        remaining = deadline - time.monotonic()
        if await answers(addr, max(min(attempt_s, remaining), 0.05)):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.05)  # retry interval while polling a condition


async def leaking(mesh: Mesh, links: Iterable[Link], silence_s: float) -> list[Link]:
    """The links through which a ping is still answered within `silence_s` (probed
    concurrently); empty when every link is silent."""
    ordered = sorted(links)
    oks = await asyncio.gather(*(answers(mesh.link_addr(x), silence_s) for x in ordered))
    return [x for x, ok in zip(ordered, oks) if ok]


async def silent(addrs: Mapping[K, Addr], deadline_s: float) -> list[K]:
    """The names whose address still does not answer after `deadline_s` (probed
    concurrently until each answers); empty when all answer."""
    names = sorted(addrs)
    oks = await asyncio.gather(*(wait_answers(addrs[n], deadline_s) for n in names))
    return [n for n, ok in zip(names, oks) if not ok]
