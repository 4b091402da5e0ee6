"""A deterministic simulator: a cluster of sans-I/O `Node`s on virtual time.

The simulator plays the part `server.py` plays in production, for every node
at once: it feeds events to `Node.handle` and carries out the effects. Virtual
time is an integer count of milliseconds; one agenda (`sim/agenda.py`)
holds everything due later (message deliveries, timers, disk completions,
client requests), ordered by (time, insertion order). Every choice (latency,
drops, duplicates, disk delay, node seeds, incarnations) is drawn from one
`random.Random(seed)`, so **the same seed and the same calls give the same
run**, event for event (`trace`).

What it models:

* the network (`sim/network.py`): per directed link, cut (losing or
  holding messages until heal) or connected, with drop/duplicate
  probabilities and extra delay; messages travel as encoded frames (so they
  are copied, and must fit the wire format); a send to a crashed node fails
  after `refused_ms` with `PeerUnreachable` (connection refused), a send over
  a cut link tells the sender nothing; clients reach every running node;
* disks: each node has a `MemoryStorage`; a `Persist` effect is written after
  a random delay (plus the node's `disk_delay_ms`), in order per node, then
  fed back as `Persisted`;
* clocks: each node's wall clock is `EPOCH_MS + now_ms + skew_ms[node]`, its
  monotonic clock `now_ms / 1000`;
* crashes: `crash` drops the node's memory, its unwritten `Persist` effects,
  its timers and every message in flight to or from it; open client requests
  to it get a `closed` error (indeterminate). `restart` boots a new `Node`
  from its disk with `core.boot_actor` (so it takes a fresh actor id);
* more faults (`sim/faults.py`): a power cut that also loses what the disk had
  not synced, a wipe, broken connections (`lossy`: reset_peer, limit_data),
  and spare nodes (`spares`) that join by gossip;
* bugs: a node that counts a `handler_errors` (an exception caught at its
  dispatch boundary) fails the run at once with `HandlerBug`;
* clients: `request` sends a client message (a `ClientRequest` event after one
  network latency) and collects the `Reply`; a request unanswered after
  `client_timeout_ms` gets a `timeout` error. A reply is given at most once.

The node code runs unchanged; `core.Node` and `core.boot_actor` are looked up
on the module at each boot, so an intercept that replaces them applies here too.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgpack
import xxhash
from mypy_extensions import mypyc_attr

from node import core, events, versions
from node.config import NodeConfig, config_from_dict
from node.membership import SEED_ALIAS
from node.messages import ErrorReply, Get, Put
from node.protocol import Message, decode_body, encode_body, encode_frame
from node.ring import Ring
from node.sim.agenda import (
    SEQ_BITS,
    Agenda,
    ClientDeadline,
    ClientSend,
    Delivery,
    DiskWrite,
    Item,
    Refused,
    TimerDue,
)
from node.sim.lossy import LossyLinks
from node.sim.network import Network, uniform_ints
from node.storage import OBJECTS, MemoryStorage
from node.versions import Versioned

EPOCH_MS = 1_700_000_000_000
"""Wall-clock milliseconds at virtual time 0 (before any skew)."""
BASE_PORT = 7001
TRACE_FORMAT: Final = 2
"""What the trace holds and how it is hashed: digests compare only within one format (1:
SHA-256 over nested entries; 2: XXH3-128 over flat entries, messages as frame bytes)."""
TRACE_BATCH = 2048
"""Trace entries hashed at a time (and then dropped: the digest stands for them)."""


@dataclass(frozen=True)
class SimConfig:
    """The simulated cluster: node count, node settings and the latencies (ms, inclusive).

    `settings` are node config fields (n, r, w, intervals, conflict, ...) given
    to every node, validated by `config_from_dict`.
    """

    nodes: int = 5
    settings: Mapping[str, Any] = field(default_factory=dict)
    latency_ms: tuple[int, int] = (1, 5)
    disk_ms: tuple[int, int] = (0, 2)
    refused_ms: int = 1
    client_timeout_ms: int = 10_000
    trace: bool = True


OnReply = Callable[[Message], None]


def wire_copy(msg: Message) -> Message:
    """`msg` as the receiver would decode it from a frame (a fresh copy; raises if unframeable).

    The length prefix and the stream buffering are left out (the frame codec has its own
    tests); the payload goes through the same msgpack encoding and validation.
    """
    return decode_body(encode_body(msg))


@mypyc_attr(native_class=False)  # mypyc cannot compile a native subclass of AssertionError
class HandlerBug(AssertionError):
    """A node caught an exception at its dispatch boundary: the run fails.

    `node`, `at_ms` (virtual time) and `error` (the node's log line) say which and how.
    """

    def __init__(self, node: str, at_ms: int, error: str) -> None:
        super().__init__(f"{node} caught a handler bug at {at_ms} ms: {error}")
        self.node, self.at_ms, self.error = node, at_ms, error


class Simulator:
    """A cluster of `config.nodes` nodes named n1, n2, ..., all booted at time 0.

    Everything is driven by `random.Random(seed)`. Nothing happens between
    calls: time moves only in `run_for`, `run_until`, `run_until_interrupted` and `call`.
    """

    def __init__(self, seed: int, config: SimConfig | None = None) -> None:
        self.seed = seed
        self.config = config or SimConfig()
        self.rng = random.Random(seed)
        self.network = Network(self.rng, self.config.latency_ms)
        self._disk_ms = uniform_ints(self.rng, *self.config.disk_ms)
        self.names = [f"n{i}" for i in range(1, self.config.nodes + 1)]
        self.disks = {n: MemoryStorage() for n in self.names}
        self.nodes: dict[str, core.Node] = {}
        self.boots = dict.fromkeys(self.names, 0)
        self.skew_ms = dict.fromkeys(self.names, 0)
        self.disk_delay_ms = dict.fromkeys(self.names, 0)
        self.agenda = Agenda()
        self.trace: list[tuple[Any, ...]] = []
        """The newest trace entries, not yet hashed (`trace_digest` covers every entry)."""
        self.traced = 0
        """How many trace entries were hashed and dropped from `trace`."""
        self._digest = xxhash.xxh3_128()
        self._packer = msgpack.Packer(use_bin_type=True, default=_plain, autoreset=False)
        self.logs: list[tuple[int, str, str, str]] = []
        self.replies: dict[int, Message] = {}
        self._conns = itertools.count(1)
        self._armed: set[tuple[str, int, int]] = set()
        self._disk_free_ms = dict.fromkeys(self.names, 0)
        self._open: dict[int, tuple[str, OnReply | None]] = {}
        self._held: list[Delivery] = []
        self.spares: dict[str, tuple[str, ...]] = {}  # spare -> its seeds (sim/faults.py)
        self.lossy = LossyLinks()
        self._tracing = self.config.trace
        self._nows: dict[str, tuple[int, int, events.Now]] = {}
        self._interrupted = False  # set by `interrupt`, read after each step
        self._interruptible = False  # only in `run_until_interrupted`
        self.network.heal_listeners.append(self._release_held)
        self._by_addr = {self.addr(n): n for n in self.names}
        first = self.node_config(self.names[0])
        self.n = first.n
        self.ring = Ring(first.ring_members, first.partitions)  # static: every node's ring
        for name in self.names:
            self._boot(name)

    # --- configuration --------------------------------------------------------

    def addr(self, name: str) -> str:
        """The listen address `name` has in every config (never actually bound)."""
        return f"127.0.0.1:{BASE_PORT + [*self.names, *self.spares].index(name)}"

    def node_config(self, name: str) -> NodeConfig:
        """`name`'s config: every node a static member, plus `config.settings`; a spare's
        names only itself as a member, and its seeds (see `node.sim.faults.add_spare`)."""
        seeds = self.spares.get(name)
        members = [name] if seeds is not None else self.names
        raw = {"name": name, "listen": self.addr(name), "data_dir": f"/simulated/{name}",
               "members": [{"name": n, "addr": self.addr(n)} for n in members],
               **({"seeds": [self.addr(s) for s in seeds]} if seeds is not None else {}),
               **self.config.settings}  # fmt: skip
        return config_from_dict(raw, f"<simulator config of {name}>")

    def primaries(self, key: str) -> list[str]:
        """The first N nodes of `key`'s preference list: by the ring of the first running
        member (membership faults change it), else by the static membership."""
        ring = next((self.nodes[n].ring for n in self.names if n in self.nodes), self.ring)
        return ring.walk(ring.partition_of(key))[: self.n]

    def now(self, name: str) -> events.Now:
        """`name`'s clocks now: skewed wall milliseconds, shared monotonic seconds."""
        now_ms, skew = self.agenda.now_ms, self.skew_ms[name]
        cached = self._nows.get(name)  # one node takes several events in one millisecond
        if cached is not None and cached[0] == now_ms and cached[1] == skew:
            return cached[2]
        now = events.Now(EPOCH_MS + now_ms + skew, now_ms / 1000)
        self._nows[name] = (now_ms, skew, now)
        return now

    def set_skew(self, name: str, skew_ms: int) -> None:
        """Sets `name`'s wall clock to run `skew_ms` ahead of true time (negative: behind)."""
        self._trace("skew", name, skew_ms)
        self.skew_ms[name] = skew_ms

    def set_disk_delay(self, name: str, delay_ms: int) -> None:
        """Makes every later disk write of `name` take `delay_ms` longer (a slow disk)."""
        self._trace("disk_delay", name, delay_ms)
        self.disk_delay_ms[name] = delay_ms

    # --- node lifecycle -------------------------------------------------------

    def is_up(self, name: str) -> bool:
        return name in self.nodes

    def crash(self, name: str) -> None:
        """Kills `name`: its memory, unwritten Persists, timers and in-flight messages are lost.

        Its disk keeps what was written. Raises ValueError if it is already down.
        """
        if name not in self.nodes:
            raise ValueError(f"cannot crash {name}: it is not running (restart it first)")
        self._trace("crash", name)
        del self.nodes[name]
        self._armed = {t for t in self._armed if t[0] != name}
        self._disk_free_ms[name] = 0
        for conn, (node, _) in sorted(self._open.items()):
            if node == name:
                self._answer(conn, _error("closed", f"{name} crashed; the request may have landed"))

    def restart(self, name: str) -> None:
        """Boots a new `Node` for `name` from its disk. Raises ValueError if it is running."""
        if name in self.nodes:
            raise ValueError(f"cannot restart {name}: it is running (crash it first)")
        self._boot(name)

    def _boot(self, name: str) -> None:
        storage = self.disks[name]
        actor = core.boot_actor(storage, name, self.rng.getrandbits(32))
        node = core.Node(self.node_config(name), storage, random.Random(self.rng.getrandbits(64)),
                         actor)  # fmt: skip
        self.boots[name] += 1
        self.nodes[name] = node
        self._trace("boot", name, actor)
        self._carry_out(name, node.start(self.now(name)))

    # --- clients --------------------------------------------------------------

    def request(self, node: str, msg: Message, on_reply: OnReply | None = None) -> int:
        """Sends a client request to `node`; returns its connection id.

        The reply lands in `replies[conn]` and is passed to `on_reply` (which
        may send further requests). Every request gets exactly one reply: the
        node's, or an error (`unreachable`, `closed`, `timeout`).
        """
        conn = next(self._conns)
        self._open[conn] = (node, on_reply)
        body = encode_body({**msg, "id": conn})
        wire = decode_body(body)  # wire_copy; the trace holds its frame bytes
        self.agenda.push(self.network.latency(), ClientSend(node, conn, wire))
        self.agenda.push(self.config.client_timeout_ms, ClientDeadline(conn))
        self._trace("request", node, conn, body)
        return conn

    def call(self, node: str, msg: Message) -> Message:
        """Sends a client request and runs the cluster until it is answered; returns the reply."""
        conn = self.request(node, msg)
        self.run_until(lambda: conn in self.replies, self.config.client_timeout_ms)
        return self.replies.pop(conn)

    def get(self, node: str, key: str) -> Message:
        """A client get through `node` (see `call`)."""
        return self.call(node, Get(key).wire())

    def put(self, node: str, key: str, value: bytes, context: bytes = b"") -> Message:
        """A client put through `node` (see `call`); an empty context is a blind put."""
        return self.call(node, Put(key, value, context).wire())

    def open_requests(self) -> int:
        """How many client requests are still waiting for their reply."""
        return len(self._open)

    def _answer(self, conn: int, msg: Message, body: bytes = b"") -> None:
        """Gives `msg` to the client of `conn` once; `body`, if given, is its frame bytes
        (what the trace records: the same facts as `msg`, cheaper to hash)."""
        opened = self._open.pop(conn, None)
        if opened is None:
            return  # already answered (a late reply after a timeout, say)
        self.replies[conn] = msg
        self._trace("reply", conn, body or msg)
        if opened[1] is not None:
            opened[1](msg)

    # --- time -----------------------------------------------------------------

    def run_for(self, ms: int) -> None:
        """Carries out everything due in the next `ms` milliseconds; time then is now + ms."""
        self._advance(self.now_ms + ms, None)

    def run_until(self, done: Callable[[], bool], within_ms: int) -> bool:
        """Runs until `done()` holds (checked after each step) or `within_ms` pass.

        Returns whether `done()` held; time stops at the step that made it hold.
        """
        return done() or self._advance(self.now_ms + within_ms, done)

    def run_until_interrupted(self, within_ms: int) -> bool:
        """Runs until a step calls `interrupt` or `within_ms` pass; True if interrupted.

        `run_until` with a condition only a step can make true, told by the step itself
        instead of asked after every step (the simulated clients' scheduler stops this
        way when a reply resumes a client: node/sim/clients.py)."""
        self._interrupted, self._interruptible = False, True
        try:
            return self._advance(self.now_ms + within_ms, None)
        finally:
            self._interrupted = self._interruptible = False

    def interrupt(self) -> None:
        """Makes the running `run_until_interrupted` return after the current step, time
        standing at it. Anywhere else (`run_for`, `run_until`, between runs), nothing."""
        if self._interruptible:
            self._interrupted = True

    def _advance(self, end_ms: int, done: Callable[[], bool] | None) -> bool:
        # The agenda's pop_due inlined: this loop runs once per event.
        agenda, heap, items, pop = self.agenda, self.agenda.heap, self.agenda.items, heapq.heappop
        beyond = (end_ms + 1) << SEQ_BITS  # the least key due after end_ms
        while heap and heap[0] < beyond:
            key = pop(heap)
            agenda.now_ms = key >> SEQ_BITS
            self._step(items.pop(key))
            if self._interrupted or (done is not None and done()):
                return True
        agenda.wait_until(end_ms)
        return False

    @property
    def now_ms(self) -> int:
        """Virtual milliseconds since the cluster booted."""
        return self.agenda.now_ms

    # --- stepping -------------------------------------------------------------

    def _alive(self, name: str, boot: int) -> bool:
        return name in self.nodes and self.boots[name] == boot

    def _step(self, item: Item) -> None:
        """Carries out one agenda item. (A chain of type tests, most common first: compiled,
        each is a pointer comparison and each call a direct one.)"""
        if isinstance(item, Delivery):
            self._deliver(item)
        elif isinstance(item, TimerDue):
            self._timer_due(item)
        elif isinstance(item, DiskWrite):
            self._disk_write(item)
        elif isinstance(item, ClientSend):
            self._client_send(item)
        elif isinstance(item, ClientDeadline):
            self._client_deadline(item)
        else:
            self._refused(item)

    def _timer_due(self, item: TimerDue) -> None:
        armed = (item.node, item.boot, item.timer)
        if armed in self._armed:
            self._armed.discard(armed)
            traced = (self.agenda.now_ms, "TimerFired", item.node, item.timer)
            self._feed(item.node, events.TimerFired(item.timer), traced)

    def _disk_write(self, item: DiskWrite) -> None:
        if self._alive(item.node, item.boot):
            self.disks[item.node].write(item.persist.items)
            token = item.persist.token
            traced = (self.agenda.now_ms, "Persisted", item.node, token)
            self._feed(item.node, events.Persisted(token), traced)

    def _refused(self, item: Refused) -> None:
        if self._alive(item.node, item.boot):
            self._feed(item.node, events.PeerUnreachable(item.peer))  # rare; tests read it

    def _client_send(self, item: ClientSend) -> None:
        if item.conn not in self._open:
            return
        if item.node in self.nodes:
            # its message: the "request" entry's bytes
            traced = (self.agenda.now_ms, "ClientRequest", item.node, item.conn)
            self._feed(item.node, events.ClientRequest(item.conn, item.msg), traced)
        else:
            self._answer(item.conn, _error("unreachable", f"{item.node} is down"))

    def _client_deadline(self, item: ClientDeadline) -> None:
        if item.conn in self._open:  # most requests were answered long before
            self._answer(item.conn, _error("timeout", "no reply in time; it may have landed"))

    def _deliver(self, d: Delivery) -> None:
        nodes, boots = self.nodes, self.boots  # _alive inlined: once per message
        if not (d.src in nodes and boots[d.src] == d.src_boot
                and d.dst in nodes and boots[d.dst] == d.dst_boot):  # fmt: skip
            self._trace("lost", d.src, d.dst, d.msg.get("t"))
        elif not self.network.cut or (d.src, d.dst) not in self.network.cut:  # connected
            traced = (self.agenda.now_ms, "PeerMessage", d.dst, d.src, d.body) if d.body else None
            self._feed(d.dst, events.PeerMessage(d.src, d.msg), traced)
        elif self.network.holds(d.src, d.dst):
            self._held.append(d)
        else:
            self._trace("lost", d.src, d.dst, d.msg.get("t"))

    def _release_held(self) -> None:
        """On heal, what cut links held goes out again, in the order it was held."""
        held, self._held = self._held, []
        for d in held:
            self.agenda.push(self.network.latency(), d)

    def _feed(self, name: str, event: events.Event, traced: tuple[Any, ...] | None = None) -> None:
        """Hands `event` to `name` and carries out the effects. The trace records `traced`
        if given: the whole entry (time, event type, node, then the event's fields, a
        delivery's as its frame bytes), flat, the same facts in a form cheaper to hash;
        else (time, "event", node, event)."""
        if self._tracing:  # _trace inlined: once per event
            trace = self.trace
            trace.append((self.agenda.now_ms, "event", name, event) if traced is None else traced)
            if len(trace) >= TRACE_BATCH:
                self._hash_trace()
        node = self.nodes[name]
        self._carry_out(name, node.handle(event, self.now(name)))
        if node.outbox.counters.get(core.HANDLER_ERRORS):
            bug = next((m for _, n, _, m in reversed(self.logs) if n == name), "")
            raise HandlerBug(name, self.now_ms, bug)

    def _carry_out(self, name: str, effects: list[events.Effect]) -> None:
        boot = self.boots[name]
        for e in effects:
            if isinstance(e, events.SendPeer):  # by far the most common: tested first
                self._send(name, boot, e.peer, e.msg)
            elif isinstance(e, events.SetTimer):
                self._armed.add((name, boot, e.timer))
                self.agenda.push(round(e.delay_s * 1000), TimerDue(name, boot, e.timer))
            elif isinstance(e, events.CancelTimer):
                self._armed.discard((name, boot, e.timer))
            elif isinstance(e, events.Persist):
                self._schedule_write(name, boot, e)
            elif isinstance(e, events.Reply):
                opened = self._open.get(e.conn)
                if opened is not None and opened[0] == name:
                    body = encode_body(e.msg)
                    self._answer(e.conn, decode_body(body), body)  # wire_copy
            elif isinstance(e, events.Log):
                self.logs.append((self.now_ms, name, e.level, e.message))

    def _schedule_write(self, name: str, boot: int, persist: events.Persist) -> None:
        """Disk writes complete after a random delay, but in the order they were issued."""
        delay_ms = self._disk_ms() + self.disk_delay_ms[name]
        at = max(self.now_ms + delay_ms, self._disk_free_ms[name])
        self._disk_free_ms[name] = at
        self.agenda.push(at - self.now_ms, DiskWrite(name, boot, persist))

    def _send(self, src: str, boot: int, peer: str, msg: Message) -> None:
        dst = self._by_addr.get(peer.removeprefix(SEED_ALIAS), peer)
        if dst not in self.disks or (dst not in self.nodes and self.network.connected(src, dst)):
            self.agenda.push(self.config.refused_ms, Refused(src, boot, peer))
            return
        network = self.network
        if not (network.cut or network.faults or self.lossy.faults) and dst in self.nodes:
            # every link clean (network.fates' common case, inlined): one copy, one latency
            delay_ms = network.latency()
            body = encode_body(msg)
            wire = decode_body(body)
            self.agenda.push(delay_ms, Delivery(src, boot, dst, self.boots[dst], wire, body))
            return
        fates = network.fates(src, dst) if dst in self.nodes else []
        if self.lossy.faults and fates:  # reset_peer / limit_data (sim/lossy.py)
            fates = self._lossy_fates(src, boot, peer, dst, msg, fates)
        if not fates:
            self._trace("lost", src, dst, msg.get("t"))
        body = encode_body(msg)  # even for a lost message: it must fit the wire
        for delay_ms in fates:  # each copy decoded apart, as a receiver would
            wire = decode_body(body)
            self.agenda.push(delay_ms, Delivery(src, boot, dst, self.boots[dst], wire, body))

    # --- inspection -----------------------------------------------------------

    def _lossy_fates(
        self, src: str, boot: int, peer: str, dst: str, msg: Message, fates: list[int]
    ) -> list[int]:
        """The copies of `msg` (src → dst) that survive the link's lossy fault; schedules
        the sender's `PeerUnreachable(peer)` when its connection breaks (sim/lossy.py)."""
        kept, broken_in_ms = self.lossy.fates(src, dst, self.now_ms, len(encode_frame(msg)), fates)
        if broken_in_ms is not None:
            self._trace("broken", src, dst, broken_in_ms)
            self.agenda.push(max(broken_in_ms, self.config.refused_ms), Refused(src, boot, peer))
        return kept

    def local(self, name: str, key: str, space: str = OBJECTS) -> Versioned:
        """`name`'s own state of `key` (its in-memory view if up, else its disk), no repair."""
        node = self.nodes.get(name)
        if node is not None:
            return node.local(key, space)
        data = self.disks[name].read(key, space)
        return versions.EMPTY if data is None else versions.decode(data)

    def durable_values(self, key: str) -> list[bytes]:
        """Every sibling value of `key` on every disk (replicas and hints), sorted, repeats kept."""
        out: list[bytes] = []
        for disk in self.disks.values():
            for space in [OBJECTS, *disk.hint_counts()]:
                data = disk.read(key, space)
                if data is not None:
                    out += versions.decode(data).values
        return sorted(out)

    def trace_digest(self) -> str:
        """An XXH3-128 of the whole trace: equal digests mean event-for-event equal runs.

        The trace is hashed in its msgpack form (events as their type name and fields,
        messages as their frame bytes), which says as much as its repr and is built in C,
        in batches of `TRACE_BATCH` entries as it grows, so a run does not keep every
        message it carried. XXH3, not SHA-256: the digest guards against accidents (a
        run that is not deterministic), not adversaries, and a run hashes ~20 MB of
        messages, which took SHA-256 4% of a run.
        """
        h = self._digest.copy()
        self._hash_into(h, self.trace)
        return h.hexdigest()

    def _trace(self, *fields: Any) -> None:
        if self._tracing:
            self.trace.append((self.agenda.now_ms, *fields))
            if len(self.trace) >= TRACE_BATCH:
                self._hash_trace()

    def _hash_trace(self) -> None:
        """Hashes the trace entries kept so far into the digest, and drops them."""
        self._hash_into(self._digest, self.trace)
        self.traced += len(self.trace)
        self.trace = []

    def _hash_into(self, h: Any, entries: list[tuple[Any, ...]]) -> None:
        """Hashes `entries` packed one after the other (so batch boundaries do not change a
        digest), from the Packer's own buffer: no bytes object per entry, no joined copy.
        They are packed in one call, as an array whose header is then skipped."""
        packer = self._packer
        n = len(entries)
        header = 1 if n < 16 else 3 if n < 1 << 16 else 5  # msgpack's fixarray, array16/32
        try:
            packer.pack(entries)
            with packer.getbuffer() as packed:
                h.update(packed[header:])
        finally:
            packer.reset()


def _plain(obj: Any) -> Any:
    """A traced value msgpack cannot hold: a dataclass (an event) as its type name and
    fields, anything else as its repr (as the trace was hashed before)."""
    fields = _FIELDS.get(type(obj))
    if fields is None:
        names = getattr(obj, "__dataclass_fields__", None)
        if names is None:
            return repr(obj)
        fields = _FIELDS[type(obj)] = operator.attrgetter("__class__.__name__", *names)
    return fields(obj)


_FIELDS: dict[type, Callable[[Any], Any]] = {}


def _error(code: str, message: str) -> Message:
    return ErrorReply(code, message).wire()
