"""The nemesis: the execution of faults on a cluster, with verification.

A `Nemesis` carries `Fault` records (harness/faults.py: validated data) out on
a cluster (`LocalCluster`, or a `RemoteCluster` on hosts) whose links a `Net`
controls (the Toxiproxy `Mesh`, or iptables + tc on the hosts), and, for clock
faults, a `ClockControl`. Everything it does to a host goes through the cluster
(which goes through the host's Remote) and everything to a link through the Net:

* `start(fault)` applies the fault and *verifies* it took effect before it
  returns the realised details (which links were cut, which pids were killed,
  the measured skew). If verification fails it raises `NemesisError` and the
  fault stays in `active`, so `heal_all` still reverts it.
* `stop(fault)` reverts one fault and verifies the revert.
* `heal_all()` reverts everything still active, then sweeps (every toxic off
  every proxy, killed nodes restarted, paused nodes resumed, clocks reset),
  collecting failures and raising one `NemesisError` at the end.

Always heal: `async with Nemesis(...) as nemesis:` calls `heal_all()` on the way
out, on errors and on Ctrl-C too (the cancelled task still runs the heal; a
second Ctrl-C interrupts it). Randomness (which node, which half) comes only
from the `random.Random` passed in, and per fault: fault `id` draws from its own
rng (`fault_rng`), so a fault's cut is a function of the seed, its id, shape
and targets, whatever order overlapping faults start in.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

from harness import membership_nemesis, partitions
from harness.clock import ClockControl, ClockUnavailable, measure_offset_s, require_libfaketime
from harness.cluster import LocalCluster
from harness.faults import PARAMS as PARAMS
from harness.faults import ClockOp as ClockOp
from harness.faults import Fault as Fault
from harness.faults import FaultError as FaultError
from harness.faults import FaultKind as FaultKind
from harness.faults import NemesisError as NemesisError
from harness.membership_nemesis import MembershipState
from harness.mesh import CLIENT, answers, silent
from harness.net import Net, leaking, silent_links
from harness.partitions import Link, PartitionMode, sorted_links
from harness.targeting import primaries
from harness.toxiproxy import ToxicKind

Details = dict[str, Any]


@dataclass(frozen=True)
class Timing:
    """How long the nemesis waits for evidence."""

    silence_s: float = 0.5  # a cut link or a paused/killed node stays silent this long
    ready_s: float = 20.0  # a healed link or restarted node answers within this
    clock_slack_s: float = 0.5  # a measured skew may differ from the target by this


class Nemesis:
    """Applies, verifies and reverts faults on one meshed cluster. `active` maps
    fault ids to the faults in force, with their targets as realised."""

    def __init__(
        self, cluster: LocalCluster, net: Net, clock: ClockControl | None,
        rng: random.Random, timing: Timing = Timing(),
    ) -> None:  # fmt: skip
        self.cluster, self.net, self.clock, self.rng = cluster, net, clock, rng
        # Each fault's rng derives from this (as generator.FAULT_RNG records in schedule.json).
        self._fault_seed = rng.getrandbits(64)
        self.timing = timing
        self.active: dict[int, Fault] = {}
        self.links: dict[int, frozenset[Link]] = {}  # faults that carry toxics: their links
        self.killed: set[str] = set()  # killed by this nemesis and not restarted yet
        self.disks: dict[str, Any] = {}  # node -> its LazyMount (crash faults need one)
        self.membership = MembershipState()  # members, spares, seeds (membership faults)
        self.heal_notes: list[str] = []  # what the last heal found but could not fix

    async def __aenter__(self) -> Nemesis:
        return self

    async def __aexit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.heal_all()

    async def start(self, fault: Fault) -> Details:
        """Applies `fault` and verifies it; returns the realised details ("targets",
        and per kind "links", "pids", "skew_s", "measured_ms"). Raises FaultError for
        unknown names or an id already active (nothing applied), ClockUnavailable for
        a clock fault without libfaketime, NemesisError when the fault does not show."""
        if fault.id in self.active:
            raise FaultError(f"fault {fault.id}: field 'id' is already active")
        if self.clock is not None:
            self.clock.track()  # so that clock.cleanup() finds these pids' shm files later
        fault.check_names(list(self.cluster.nodes))
        if fault.kind is FaultKind.CLOCK and self.clock is None:
            require_libfaketime()  # raises with the install hint when it is missing
            raise ClockUnavailable("clock faults need a ClockControl: construct "
                                   "ClockControl(cluster) before the nodes start")  # fmt: skip
        if "key" in fault.params and not fault.targets:  # aimed at a key's primaries
            fault = replace(fault, targets=await self._key_targets(fault))
        resolved = replace(fault, targets=self._resolve_targets(fault))
        self.active[fault.id] = resolved
        starts: dict[FaultKind, Callable[[Fault], Awaitable[Details]]] = {
            FaultKind.PARTITION: self._start_partition, FaultKind.KILL: self._start_kill,
            FaultKind.PAUSE: self._start_pause, FaultKind.CLOCK: self._start_clock,
            FaultKind.LATENCY: self._start_slow, FaultKind.BANDWIDTH: self._start_slow,
            **_bind(self, extra_starts()),
        }  # fmt: skip
        try:
            details = await starts[fault.kind](resolved)
        except FaultError:
            del self.active[fault.id]  # refused before anything was applied
            raise
        return {"targets": list(resolved.targets), **details}

    async def stop(self, fault: Fault) -> Details:
        """Reverts the active fault with `fault.id` and verifies the revert; returns
        details. A fault that is not active is left alone ({"active": False})."""
        resolved = self.active.get(fault.id)
        if resolved is None:
            return {"active": False}
        stops: dict[FaultKind, Callable[[Fault], Awaitable[Details]]] = {
            FaultKind.PARTITION: self._stop_toxics, FaultKind.KILL: self._stop_kill,
            FaultKind.PAUSE: self._stop_pause, FaultKind.CLOCK: self._stop_clock,
            FaultKind.LATENCY: self._stop_toxics, FaultKind.BANDWIDTH: self._stop_toxics,
            **_bind(self, extra_stops()),
        }  # fmt: skip
        details = await stops[resolved.kind](resolved)
        del self.active[fault.id]
        self.links.pop(fault.id, None)
        return {"targets": list(resolved.targets), **details}

    async def heal_all(self) -> None:
        """Reverts every active fault (newest first), then removes every toxic, resumes
        paused nodes, restarts nodes this nemesis killed, resets every clock, and
        checks that every proxy is clean and every running node answers through its
        client proxy. Idempotent. Every step runs even if an earlier one failed; the
        failures are raised together as one NemesisError at the end."""
        errors: list[str] = []
        if self.clock is not None:
            self.clock.track()
        for fault in sorted(self.active.values(), key=lambda f: (f.start_s, f.id), reverse=True):
            await _collect(errors, f"stop fault {fault.id} ({fault.kind})", self.stop(fault))
        self.active.clear()
        self.links.clear()
        await _collect(errors, "reset links", asyncio.to_thread(self.net.reset))
        for name in [n for n, proc in self.cluster.nodes.items() if proc.paused]:
            await _collect(errors, f"resume {name}", asyncio.to_thread(self.cluster.resume, name))
        for name in sorted(self.killed):
            await _collect(errors, f"restart {name}", self._restart(name))
        if self.membership.initial_members:
            self.heal_notes = await membership_nemesis.restore(self)
        if self.clock is not None:
            await _collect(errors, "reset clocks", _now(self.clock.reset))
        await _collect(errors, "final check", self._check_healed())
        if errors:
            raise NemesisError("heal_all could not restore everything: " + "; ".join(errors))

    def _resolve_targets(self, fault: Fault) -> tuple[str, ...]:
        """The fault's own targets, else: every node for a partition, the nodes of its
        explicit links, or one node picked with the rng (not one already killed)."""
        if fault.targets:
            return tuple(sorted(set(fault.targets)))
        nodes = sorted(self.cluster.nodes)
        if "links" in fault.params:
            return tuple(sorted({n for link in fault.params["links"] for n in link} - {CLIENT}))
        if fault.kind is FaultKind.PARTITION:
            return tuple(nodes)
        rng = self.fault_rng(fault)
        return (rng.choice([n for n in nodes if n not in self.killed] or nodes),)

    def fault_rng(self, fault: Fault) -> random.Random:
        """The rng of fault `fault.id` alone: the same for the same seed and id, however
        many draws other faults made before it (they run concurrently)."""
        return random.Random(f"{self._fault_seed}/{fault.id}")

    def running(self, name: str) -> bool:
        """True when node `name` has a live, unpaused process."""
        return self._running(name)

    def slow_links(self, fault: Fault) -> frozenset[Link]:
        """The fault's explicit links, else every link into or out of a target."""
        return self._slow_links(fault)

    async def _key_targets(self, fault: Fault) -> tuple[str, ...]:
        addrs = [self.cluster.addr(n) for n in sorted(self.cluster.nodes) if self._running(n)]
        n = int(self.cluster.settings.get("n", 3))
        try:
            return await primaries(addrs, fault.params["key"], n, fault.params.get("scope", "all"))
        except OSError as e:
            raise NemesisError(f"fault {fault.id}: {e}") from None

    def _running(self, name: str) -> bool:
        return not self.cluster.nodes[name].paused and self.cluster.running(name)

    # --- links: partitions, latency, bandwidth ----------------------------------------

    async def _start_partition(self, fault: Fault) -> Details:
        if "links" in fault.params:
            cut = frozenset((a, b) for a, b in fault.params["links"])
        else:
            try:
                shape, nodes = fault.params["shape"], list(fault.targets)
                cut = partitions.cut_for(shape, nodes, self.fault_rng(fault))
            except ValueError as e:
                raise FaultError(f"fault {fault.id}: field 'params.shape': {e}") from None
        self.links[fault.id] = cut
        mode = fault.params.get("mode", PartitionMode.HOLD)
        await asyncio.to_thread(self.net.cut, cut, _tag(fault), mode)
        passing = await leaking(self.net, cut, self.timing.silence_s)
        if passing:
            raise NemesisError(f"fault {fault.id}: links still pass traffic when cut: {passing}")
        return {"links": sorted_links(cut), "mode": mode}

    async def _start_slow(self, fault: Fault) -> Details:
        links = self._slow_links(fault)
        self.links[fault.id] = links
        p = fault.params
        if fault.kind is FaultKind.LATENCY:
            kind, attrs = (
                ToxicKind.LATENCY,
                {"latency": p["latency_ms"], "jitter": p.get("jitter_ms", 0)},
            )
        else:
            kind, attrs = ToxicKind.BANDWIDTH, {"rate": p["rate_kbps"]}
        await asyncio.to_thread(self.net.add_toxic, links, _tag(fault), kind, attrs)
        await self._check_tagged(fault, links, present=True)
        details: Details = {"links": sorted_links(links)}
        if fault.kind is FaultKind.LATENCY:
            details["measured_ms"] = await self._verify_latency(fault, links)
        return details

    def _slow_links(self, fault: Fault) -> frozenset[Link]:
        if "links" in fault.params:
            return frozenset((a, b) for a, b in fault.params["links"])
        return frozenset(link for link in self.net.links() if set(fault.targets) & set(link))

    async def _verify_latency(self, fault: Fault, links: frozenset[Link]) -> float | None:
        """Times one ping through a slowed link (a client link if there is one) whose
        node runs: it must take at least latency - jitter. None if no node runs."""
        usable = sorted((x for x in links if self._running(x[1])), key=lambda x: x[0] != CLIENT)
        if not usable:
            return None
        floor_s = (fault.params["latency_ms"] - fault.params.get("jitter_ms", 0)) / 1000
        took = await self.net.ping_s(usable[0], self.timing.ready_s + 2 * floor_s)
        if took < floor_s:
            raise NemesisError(f"fault {fault.id}: a ping through {usable[0]} took "
                               f"{took * 1000:.0f} ms, under the {floor_s * 1000:.0f} ms "
                               "the latency toxic should add")  # fmt: skip
        return round(took * 1000, 1)

    async def _check_tagged(self, fault: Fault, links: frozenset[Link], present: bool) -> None:
        tagged = await asyncio.to_thread(self.net.tagged, _tag(fault), links)
        wrong = [link for link, has in tagged.items() if has != present]
        if wrong:
            state = "missing" if present else "still present"
            raise NemesisError(f"fault {fault.id}: toxics {state} on links {wrong}")

    async def _stop_toxics(self, fault: Fault) -> Details:
        links = self.links.get(fault.id, frozenset())
        await asyncio.to_thread(self.net.remove_tagged, _tag(fault), links)
        await self._check_tagged(fault, links, present=False)
        if fault.kind is FaultKind.PARTITION:
            others = [v for k, v in self.links.items()
                      if k != fault.id and self.active[k].kind is FaultKind.PARTITION]  # fmt: skip
            healed = links - frozenset().union(*others)
            running = [x for x in healed if self._running(x[1])]
            dead = await silent_links(self.net, running, self.timing.ready_s)
            if dead:
                raise NemesisError(f"fault {fault.id}: healed links still silent: {dead}")
        return {"links": sorted_links(links)}

    # --- processes --------------------------------------------------------------------

    async def _start_kill(self, fault: Fault) -> Details:
        pids = {name: self.cluster.nodes[name].pid for name in fault.targets}
        for name, pid in pids.items():
            self.killed.add(name)
            await asyncio.to_thread(self.cluster.kill, name)
            if pid is not None and self.cluster.running(name):
                raise NemesisError(f"fault {fault.id}: {name} (pid {pid}) survived kill -9")
            if pid is not None and self.clock is not None:
                self.cluster.release_shm(pid)
        await self._verify_down(fault)
        return {"pids": pids}

    async def start_kill(self, fault: Fault) -> Details:
        """kill -9 every target and verify each is silent (for composed kinds)."""
        return await self._start_kill(fault)

    async def stop_kill(self, fault: Fault) -> Details:
        """Restarts every target and verifies each answers (for composed kinds)."""
        return await self._stop_kill(fault)

    async def _stop_kill(self, fault: Fault) -> Details:
        return {"pids": {name: await self._restart(name) for name in fault.targets}}

    async def _restart(self, name: str) -> int:
        """Starts a node this nemesis killed and waits until it answers."""
        pid = await asyncio.to_thread(self.cluster.start, name)
        self.killed.discard(name)
        if self.clock is not None:
            self.clock.track()
        if await silent({name: self.cluster.addr(name)}, self.timing.ready_s):
            log = self.cluster.node_dir(name) / "node.log"
            raise NemesisError(f"{name} (pid {pid}) does not answer after restart; see {log}")
        return pid

    async def _start_pause(self, fault: Fault) -> Details:
        for name in fault.targets:
            await asyncio.to_thread(self.cluster.pause, name)
        deadline = time.monotonic() + self.timing.silence_s
        while running := [n for n in fault.targets if not self.cluster.stopped(n)]:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.01)  # polling the host's /proc until the signal lands
        if running:
            raise NemesisError(f"fault {fault.id}: nodes still run after SIGSTOP: {running}")
        await self._verify_down(fault)
        return {"pids": {n: self.cluster.nodes[n].pid for n in fault.targets}}

    async def _verify_down(self, fault: Fault) -> None:
        targets = list(fault.targets)
        probes = [answers(self.cluster.addr(n), self.timing.silence_s) for n in targets]
        awake = [n for n, ok in zip(targets, await asyncio.gather(*probes)) if ok]
        if awake:
            raise NemesisError(f"fault {fault.id}: nodes still answer a ping: {awake}")

    async def _stop_pause(self, fault: Fault) -> Details:
        for name in fault.targets:
            await asyncio.to_thread(self.cluster.resume, name)
        addrs = {n: self.cluster.addr(n) for n in fault.targets if self._running(n)}
        dead = await silent(addrs, self.timing.ready_s)
        if dead:
            raise NemesisError(f"fault {fault.id}: resumed nodes do not answer: {dead}")
        return {}

    # --- clocks -----------------------------------------------------------------------

    async def _start_clock(self, fault: Fault) -> Details:
        assert self.clock is not None
        op = ClockOp(fault.params.get("op", ClockOp.BUMP))
        if op in (ClockOp.FREEZE, ClockOp.RATE):
            from harness.clock_rate import start_pace

            return await start_pace(self, fault, op)
        delta_s = float(fault.params.get("delta_s", 0.0))
        for name in fault.targets:
            if op is ClockOp.BUMP:
                self.clock.bump(name, delta_s)
            elif op is ClockOp.STROBE:
                period_s = fault.params.get("period_ms", 200) / 1000
                duration_s = (fault.end_s - fault.start_s) or 3600.0
                self.clock.start_strobe(name, (0.0, delta_s), period_s, duration_s)
            else:
                self.clock.reset([name])
        expected = {n: (0.0, delta_s) if op is ClockOp.STROBE else (self.clock.offset_s(n),)
                    for n in fault.targets}  # fmt: skip
        return {"op": op.value, "skew_s": await self._verify_clocks(fault, expected)}

    async def _stop_clock(self, fault: Fault) -> Details:
        assert self.clock is not None
        self.clock.reset(fault.targets)
        return {"skew_s": await self._verify_clocks(fault, {n: (0.0,) for n in fault.targets})}

    async def _verify_clocks(
        self, fault: Fault, expected: Mapping[str, tuple[float, ...]]
    ) -> dict[str, float | None]:
        """Each running target's wall clock, as its `status()` reports it, must be within
        the slack of one of its expected offsets; down nodes read None (unverified)."""
        measured: dict[str, float | None] = {}
        for name, allowed in expected.items():
            if not self._running(name):
                measured[name] = None
                continue
            skew = await measure_offset_s(*self.cluster.addr(name), timeout_s=self.timing.ready_s)
            measured[name] = round(skew, 3)
            if min(abs(skew - a) for a in allowed) > self.timing.clock_slack_s:
                slack_s = self.timing.clock_slack_s
                raise NemesisError(f"fault {fault.id}: {name}'s wall clock is {skew:+.3f} s off, "
                                   f"expected one of {allowed} ± {slack_s} s")  # fmt: skip
        return measured

    async def _check_healed(self) -> None:
        dirty = await asyncio.to_thread(self.net.dirty)
        if dirty:
            raise NemesisError(f"links not clean after reset: {dirty}")
        addrs = {n: self.net.client_addr(n) for n in self.cluster.nodes if self._running(n)}
        dead = await silent(addrs, self.timing.ready_s)
        if dead:
            raise NemesisError(f"nodes do not answer through their client proxies: {dead}")


def extra_starts() -> dict[FaultKind, Callable[[Nemesis, Fault], Awaitable[Details]]]:
    """The fault kinds implemented outside this module, by kind: how to start them."""
    from harness import disk_faults, link_faults

    return {FaultKind.CRASH: disk_faults.start_crash, FaultKind.WIPE: disk_faults.start_wipe,
            **link_faults.STARTS, **membership_nemesis.STARTS}  # fmt: skip


def extra_stops() -> dict[FaultKind, Callable[[Nemesis, Fault], Awaitable[Details]]]:
    """... and how to stop them."""
    from harness import link_faults

    return {FaultKind.CRASH: Nemesis.stop_kill, FaultKind.WIPE: Nemesis.stop_kill,
            **link_faults.STOPS, **membership_nemesis.STOPS}  # fmt: skip


def _bind(
    nemesis: Nemesis, table: Mapping[FaultKind, Callable[[Nemesis, Fault], Awaitable[Details]]]
) -> dict[FaultKind, Callable[[Fault], Awaitable[Details]]]:
    return {kind: functools.partial(fn, nemesis) for kind, fn in table.items()}


def _tag(fault: Fault) -> str:
    """The prefix of the toxics that belong to `fault`."""
    return f"f{fault.id}"


async def _now(fn: Callable[[], object]) -> None:
    """Runs a quick synchronous step on the loop's thread (as a heal step)."""
    fn()


async def _collect(errors: list[str], what: str, step: Awaitable[object]) -> None:
    """Awaits one heal step; a failure is recorded in `errors` instead of raised."""
    try:
        await step
    except Exception as e:  # noqa: BLE001 - heal_all must try every step
        errors.append(f"{what}: {type(e).__name__}: {e}")
