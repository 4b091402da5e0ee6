"""`IptablesNet`: link faults inside the hosts themselves, as Jepsen does (iptables + tc netem).

* A cut link (src, dst) is a DROP rule on dst's host for TCP from src's address
  to dst's node port, in a chain of Sibyl's own (`SIBYL`, jumped to first from
  INPUT). The node on src sends on its own connection to dst's port, so this
  drops exactly what src says to dst (one-way partitions work). After the rules
  change, conntrack forgets the flows of every cut link, so established
  connections are cut too, not only new ones. Heal flushes only the SIBYL
  chain: no other rule on the host is touched. A client link (client, dst) drops
  the controller's address.
* A slow link is shaped on the source host's interface: an htb class per fault
  tag (its rate is the bandwidth toxic's), with a `tc netem` leaf for latency,
  jitter and netem's loss/duplicate/reorder (extra attributes `loss_pct`,
  `duplicate_pct`, `reorder_pct`), and u32 filters for dst's address and port.
  Kernels without sch_netem (some microVM kernels) can still shape bandwidth;
  `netem_available` says which. For a client link the netem sits on
  dst's replies to the controller (the round trip is what a client sees).

The desired state is kept here (per tag) and each affected host is rebuilt from it
in one command, so removing one tag leaves every other in force. Needs root or
passwordless sudo on the hosts; `create` checks for iptables, conntrack and tc.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from harness.hostcluster import RemoteCluster
from harness.mesh import CLIENT
from harness.mesh import ping_s as direct_ping_s
from harness.net import Addr
from harness.partitions import Link, PartitionMode
from harness.remote import RemoteError
from harness.toxiproxy import ToxicKind

CHAIN = "SIBYL"
TOOLS = ("iptables", "conntrack", "tc")


@dataclass
class Slow:
    links: frozenset[Link]
    kind: ToxicKind
    attributes: dict[str, int]


@dataclass
class IptablesNet:
    """Faults on the links of a `RemoteCluster`, applied on its hosts."""

    cluster: RemoteCluster
    controller: str  # the controller's address as the hosts see it
    cuts: dict[str, frozenset[Link]] = field(default_factory=dict)
    slows: dict[str, Slow] = field(default_factory=dict)
    ifaces: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, cluster: RemoteCluster, controller: str) -> IptablesNet:
        """Checks the tools, finds each host's interface and installs the empty chain."""
        net = cls(cluster, controller)
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(net._install, cluster.nodes))
        return net

    def _sh(self, name: str, cmd: str, what: str) -> str:
        sudo = "" if self.cluster.hosts[name].user == "root" else "sudo -n "
        wrapped = f"{sudo}sh -c {shlex.quote(cmd)}"
        return self.cluster.remotes[name].run(wrapped, timeout_s=30).check(name, what).stdout

    def _install(self, name: str) -> None:
        missing = self._sh(name, " ".join(f"command -v {t} >/dev/null || echo {t};"
                                          for t in TOOLS), "checking tools").split()  # fmt: skip
        if missing:
            raise RemoteError(f"host {name}: {', '.join(missing)} missing; link faults need "
                              "them (apt-get install iptables conntrack iproute2)")  # fmt: skip
        addr = self.cluster.hosts[name].address
        out = self._sh(name, "ip -o -4 addr show", "listing addresses")
        found = [line.split()[1] for line in out.splitlines() if f" {addr}/" in line]
        if not found:
            raise RemoteError(f"host {name}: no interface has address {addr} (inventory "
                              "'address' must be the host's own address)")  # fmt: skip
        self.ifaces[name] = found[0]
        self._sh(name, f"iptables -w -N {CHAIN} 2>/dev/null || iptables -w -F {CHAIN}; "
                 f"iptables -w -C INPUT -j {CHAIN} 2>/dev/null || "
                 f"iptables -w -I INPUT 1 -j {CHAIN}", "installing the SIBYL chain")  # fmt: skip

    # --- Net ---------------------------------------------------------------------------

    def links(self) -> list[Link]:
        nodes = sorted(self.cluster.nodes)
        return sorted([(a, b) for a in nodes for b in nodes if a != b] +
                      [(CLIENT, b) for b in nodes])  # fmt: skip

    def client_addr(self, name: str) -> Addr:
        return self.cluster.addr(name)

    def cut(self, links: Iterable[Link], tag: str, mode: str = PartitionMode.HOLD) -> None:
        # DROP rules lose packets, and TCP sends them again after the heal: a held cut.
        # Losing what was sent (drop, reset) takes the local lab's fault proxy.
        if mode != PartitionMode.HOLD:
            raise ValueError(
                f"partition mode {mode!r} needs the local lab's fault proxy; "
                "iptables labs hold what is sent during a cut (mode 'hold')"
            )
        links = frozenset(links)
        self.cuts[tag] = self.cuts.get(tag, frozenset()) | links
        self._apply({b for _, b in links}, flush=links)

    def add_toxic(
        self, links: Iterable[Link], tag: str, kind: ToxicKind, attributes: Mapping[str, int]
    ) -> None:
        if kind not in (ToxicKind.LATENCY, ToxicKind.BANDWIDTH):
            raise ValueError(f"the iptables net cannot apply a {kind} toxic")
        links = frozenset(links)
        self.slows[tag] = Slow(links, kind, dict(attributes))
        self._apply({self._tc_host(x) for x in links})

    def remove_tagged(self, tag: str, links: Iterable[Link] | None = None) -> None:
        cut, slow = self.cuts.pop(tag, frozenset()), self.slows.pop(tag, None)
        hosts = {b for _, b in cut} | {self._tc_host(x) for x in (slow.links if slow else ())}
        self._apply(hosts)

    def tagged(self, tag: str, links: Iterable[Link]) -> dict[Link, bool]:
        """For each link, is `tag` in force on the host that carries it (read back)?"""
        out = {}
        for link in sorted(links):
            if link in self.cuts.get(tag, ()):
                rules = self._sh(link[1], f"iptables -w -S {CHAIN}", "listing rules")
                out[link] = f"--comment {tag} " in rules.replace('"', "")
            elif tag in self.slows and link in self.slows[tag].links:
                host = self._tc_host(link)
                shown = self._sh(host, f"tc class show dev {self.ifaces[host]}", "listing classes")
                out[link] = f"class htb 1:{self._class_of(host, tag)} " in shown
            else:
                out[link] = False
        return out

    def reset(self) -> None:
        self.cuts.clear()
        self.slows.clear()
        self._apply(set(self.cluster.nodes))

    def dirty(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name in sorted(self.cluster.nodes):
            rules = self._sh(name, f"iptables -w -S {CHAIN}", "listing rules").splitlines()
            qdiscs = self._sh(name, f"tc qdisc show dev {self.ifaces[name]}", "listing qdiscs")
            problems = [r for r in rules if not r.startswith(f"-N {CHAIN}")]
            problems += [q for q in ("htb", "netem") if f"qdisc {q}" in qdiscs]
            if problems:
                out[name] = problems
        return out

    async def answers(self, link: Link, timeout_s: float) -> bool:
        try:
            await self.ping_s(link, timeout_s)
        except (OSError, TimeoutError):
            return False
        return True

    async def ping_s(self, link: Link, timeout_s: float) -> float:
        """One ping sent from the link's source host over the link (the controller
        itself for a client link); raises TimeoutError when nothing answers."""
        src, dst = link
        if src == CLIENT:
            return await direct_ping_s(self.cluster.addr(dst), timeout_s)
        return await asyncio.to_thread(self._probe_from, src, dst, timeout_s)

    def _probe_from(self, src: str, dst: str, timeout_s: float) -> float:
        host, port = self.cluster.addr(dst)
        python = f"{self.cluster.hosts[src].dir}/venv/bin/python"
        done = self.cluster.remotes[src].run(
            f"{shlex.quote(python)} -m harness.probe {host} {port} {timeout_s}", timeout_s + 20
        )
        if done.status != 0:
            raise TimeoutError(f"{src} -> {dst}: {done.stderr.strip()[-200:]}")
        return float(done.stdout.strip())

    async def stop(self) -> None:
        """Removes every rule, qdisc and the chain itself from every host."""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        def uninstall(name: str) -> None:
            dev = self.ifaces.get(name)
            tc = f"tc qdisc del dev {dev} root 2>/dev/null; " if dev else ""
            self._sh(name, f"{tc}iptables -w -D INPUT -j {CHAIN} 2>/dev/null; "
                     f"iptables -w -F {CHAIN} 2>/dev/null; iptables -w -X {CHAIN} 2>/dev/null; "
                     "true", "removing the SIBYL chain")  # fmt: skip

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(uninstall, self.cluster.nodes))

    # --- rebuilding a host from the desired state -------------------------------------

    def _apply(self, hosts: set[str], flush: frozenset[Link] = frozenset()) -> None:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda h: self._rebuild(h, flush), sorted(hosts)))

    def _rebuild(self, host: str, flush: frozenset[Link]) -> None:
        cmds = [f"iptables -w -F {CHAIN}"]
        port = self.cluster.hosts[host].node_port
        for tag, links in sorted(self.cuts.items()):
            for src, dst_ in sorted(links):
                if dst_ == host:
                    cmds.append(f"iptables -w -A {CHAIN} -s {self._addr(src)}/32 -p tcp "
                                f"--dport {port} -m comment --comment {tag} -j DROP")  # fmt: skip
        for src, _ in sorted(x for x in flush if x[1] == host):
            cmds.append(
                f"conntrack -D -p tcp -s {self._addr(src)} -d "
                f"{self.cluster.hosts[host].address} --dport {port} >/dev/null 2>&1"
            )
        cmds.append("true")
        self._sh(host, "; ".join(cmds[:1]) + " && { " + "; ".join(cmds[1:]) + "; }",
                 "rewriting the SIBYL chain")  # fmt: skip
        self._rebuild_tc(host)

    def _rebuild_tc(self, host: str) -> None:
        """htb at the root (everything else in class 1:1, unshaped); each tag a class of
        its own (its rate for bandwidth) with a netem leaf for delay/loss, and u32
        filters steering its links' packets into it."""
        dev = self.ifaces[host]
        tags = self._tc_tags(host)
        cmds = [f"{{ tc qdisc del dev {dev} root 2>/dev/null; true; }}"]
        if tags:
            cmds += [f"tc qdisc add dev {dev} root handle 1: htb default 1",
                     f"tc class add dev {dev} parent 1: classid 1:1 htb rate 10gbit"]  # fmt: skip
        for tag in tags:
            slow, cls = self.slows[tag], self._class_of(host, tag)
            rate = slow.attributes["rate"] * 8 if slow.kind is ToxicKind.BANDWIDTH else 10**7
            cmds.append(f"tc class add dev {dev} parent 1: classid 1:{cls} htb rate {rate}kbit")
            if needs_netem(slow.kind, slow.attributes):
                cmds.append(f"tc qdisc add dev {dev} parent 1:{cls} handle {cls}: netem "
                            f"{netem_args(slow.attributes)}")  # fmt: skip
            for link in sorted(x for x in slow.links if self._tc_host(x) == host):
                cmds.append(f"tc filter add dev {dev} parent 1: protocol ip prio 1 u32 "
                            f"{self._match(link)} flowid 1:{cls}")  # fmt: skip
        self._sh(host, " && ".join(cmds), "rewriting the tc classes")

    def netem_available(self, name: str) -> bool:
        """Whether host `name`'s kernel has netem (tried on the host's loopback)."""
        probe = "tc qdisc add dev lo root handle 7: netem delay 0ms 2>/dev/null && " \
                "tc qdisc del dev lo root && echo yes; true"  # fmt: skip
        return self._sh(name, probe, "probing for netem").strip() == "yes"

    def _tc_tags(self, host: str) -> list[str]:
        return sorted(t for t, s in self.slows.items()
                      if any(self._tc_host(x) == host for x in s.links))  # fmt: skip

    def _class_of(self, host: str, tag: str) -> int:
        return 10 + self._tc_tags(host).index(tag)

    def _tc_host(self, link: Link) -> str:
        """The host whose egress carries the link's traffic (dst's for a client link)."""
        return link[1] if link[0] == CLIENT else link[0]

    def _match(self, link: Link) -> str:
        src, dst = link
        if src == CLIENT:
            port = self.cluster.hosts[dst].node_port
            return f"match ip dst {self.controller}/32 match ip sport {port} 0xffff"
        host, port = self.cluster.addr(dst)
        return f"match ip dst {host}/32 match ip dport {port} 0xffff"

    def _addr(self, name: str) -> str:
        return self.controller if name == CLIENT else self.cluster.hosts[name].address


NETEM_KEYS = (("loss_pct", "loss"), ("duplicate_pct", "duplicate"), ("reorder_pct", "reorder"))


def needs_netem(kind: ToxicKind, attributes: Mapping[str, int]) -> bool:
    """A latency toxic, or any loss/duplicate/reorder attribute, needs netem (bandwidth
    alone is an htb rate)."""
    return kind is ToxicKind.LATENCY or any(attributes.get(k) for k, _ in NETEM_KEYS)


def netem_args(attributes: Mapping[str, int]) -> str:
    """netem's arguments: delay and jitter (ms, from `latency`/`jitter`), then loss,
    duplicate and reorder (percent)."""
    a = attributes
    parts = [f"delay {int(a.get('latency', 0))}ms {int(a.get('jitter', 0))}ms"]
    parts += [f"{word} {a[key]}%" for key, word in NETEM_KEYS if a.get(key)]
    return " ".join(parts)
