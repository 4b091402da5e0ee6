"""The node's I/O shell: asyncio TCP, timers and a group-commit writer around `core.Node`.

This is the only node module that touches sockets, threads or the system
clock. It reads frames, feeds events to the core, and carries out the effects:

* peers are reached over one outbound connection each (to the address in the
  config, which may be a fault proxy); replies travel on the replier's own
  outbound connection, so every directed link can be cut on its own;
* `Persist` effects are group-committed: at the end of each loop iteration,
  after the queued frames are written out (so replicas start their own writes
  in parallel), everything queued is committed in one SQLite transaction with
  one fsync, and then `Persisted` is fed for each. The commit runs on the loop
  thread on purpose: a second Python thread would hand the GIL over through
  `pthread_cond_timedwait`, which libfaketime wraps, and that made a skewed
  node about 50x slower;
* a malformed or oversized frame gets an error reply and that connection is
  closed; every other connection keeps being served.

Every queue is bounded: a peer link drops its backlog (and reports the peer
unreachable) past `LINK_QUEUE_LIMIT` frames or `LINK_BUFFER_LIMIT` unsent
bytes; writes never queue beyond one loop iteration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import signal
import time
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from node import auth, core, events
from node.config import NodeConfig
from node.messages import AUTH_OK, Auth, ErrorReply, Hello, answer_wire, hello
from node.protocol import FrameDecoder, Message, ProtocolError, encode_frame
from node.storage import SQLiteStorage

SENDS = (events.SendPeer, events.Reply)
"""The effects that put a frame on a connection (a tuple: isinstance is cheaper than a union)."""
LINK_QUEUE_LIMIT = 20_000
LINK_BUFFER_LIMIT = 64 * 1024 * 1024
CONNECT_TIMEOUT_S = 1.0


class ListenError(Exception):
    """The node could not bind its `listen` address (taken, or not this host's)."""


log = logging.getLogger("sibyl.node")


class SystemClock:
    """Wall time (libfaketime may skew it) and monotonic time (never faked here)."""

    def now(self) -> events.Now:
        return events.Now(time.time_ns() // 1_000_000, time.monotonic())


class Inbound(asyncio.Protocol):
    """One accepted connection: handshake (and proof of the cluster secret), then client
    requests or peer messages."""

    def __init__(self, server: NodeServer) -> None:
        self.server = server
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.role = ""
        self.peer = ""
        self.conn_id = 0
        self.nonce = b""  # theirs
        self.my_nonce = b""
        self.proven = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.conn_id = self.server.register(self)

    def data_received(self, data: bytes) -> None:
        try:
            messages = self.decoder.feed(data)
            for msg in messages:
                if self.transport is None or self.transport.is_closing():
                    return  # refused: nothing after the refusal is read
                self._dispatch(msg)
        except ProtocolError as e:
            self._refuse(str(e))

    def _dispatch(self, msg: Message) -> None:
        if not self.role:
            h = Hello.parse(msg)
            self.role, self.peer, self.nonce = h.role, h.name, h.nonce
            self.my_nonce = auth.new_nonce()
            self.send(hello("node", self.server.cfg.name, self.my_nonce))
        elif msg["t"] == Auth.T:
            self._prove(Auth.parse(msg))
        elif not self._allowed(msg):
            return
        elif self.role == "client":
            self.server.feed(events.ClientRequest(self.conn_id, msg))
        else:
            self.server.feed(events.PeerMessage(self.peer, msg))

    def _prove(self, msg: Auth) -> None:
        secret = self.server.secret
        if secret is None or not self.nonce:
            self._refuse("this node has no cluster secret to prove" if secret is None
                         else "a proof needs a nonce in the hello", "unauthorized")  # fmt: skip
        elif auth.verify(secret, self.role, self.peer, self.nonce, self.my_nonce, msg.proof):
            self.proven = True
            self.send(AUTH_OK)
        else:
            self._refuse("wrong cluster secret: check the secret file given to this "
                         f"{self.role}", "unauthorized")  # fmt: skip

    def _allowed(self, msg: Message) -> bool:
        """Whether this connection may send `msg`; refuses (and closes) it if not."""
        cfg = self.server.cfg
        if self.proven or self.server.secret is None:
            return True
        if self.role == "node":
            what = "peer traffic"
        elif msg["t"] in auth.ADMIN_REQUESTS:
            what = f"the admin command {msg['t']!r}"
        elif cfg.require_client_auth:
            what = "every request (require_client_auth)"
        else:
            return True
        self._refuse(f"{what} needs the cluster secret: connect with the cluster's secret "
                     "file", "unauthorized")  # fmt: skip
        return False

    def _refuse(self, why: str, code: str = "protocol") -> None:
        peer = self.transport.get_extra_info("peername") if self.transport else None
        log.warning("closing connection from %s: %s", peer, why)
        if self.transport is not None and not self.transport.is_closing():
            self.server.flush()
            self.transport.write(encode_frame(answer_wire(ErrorReply(code, why), None)))
            self.transport.close()
        self.role = self.role or "closed"

    def send(self, msg: Message) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.server.cork(self.transport, encode_frame(msg))

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.unregister(self.conn_id)


class PeerLink(asyncio.Protocol):
    """The outbound connection to one peer, with a bounded send queue."""

    def __init__(self, server: NodeServer, name: str, host: str, port: int) -> None:
        self.server, self.name, self.host, self.port = server, name, host, port
        self.transport: asyncio.Transport | None = None
        self.queue: deque[bytes] = deque()
        self.connecting = False
        self.ready = False  # the hello is answered (and, with a secret, the proof sent)
        self.nonce = b""
        self.decoder = FrameDecoder()

    def send(self, msg: Message) -> None:
        frame = encode_frame(msg)
        if self.ready and self.transport is not None and not self.transport.is_closing():
            if self.transport.get_write_buffer_size() > LINK_BUFFER_LIMIT:
                self.transport.abort()  # a black-holed peer: give up on it, do not buffer forever
                return
            self.server.cork(self.transport, frame)
            return
        if len(self.queue) >= LINK_QUEUE_LIMIT:
            self.queue.clear()
            self.server.feed(events.PeerUnreachable(self.name, unsent=True))
            return
        self.queue.append(frame)
        if not self.connecting and self.transport is None:
            self.connecting = True
            asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: self, self.host, self.port), CONNECT_TIMEOUT_S
            )
        except (TimeoutError, OSError):
            self.connecting = False
            self.queue.clear()
            self.server.feed(events.PeerUnreachable(self.name, unsent=True))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.connecting = False
        self.decoder = FrameDecoder()
        self.nonce = auth.new_nonce()
        self.transport.write(encode_frame(hello("node", self.server.cfg.name, self.nonce)))
        if self.server.secret is None:
            self._ready([])  # nothing to prove: the queue goes out behind the hello

    def data_received(self, data: bytes) -> None:
        """The peer only answers the hello (and the proof) here; its replies come on its own
        link. With a secret, the proof and the queue go out once its hello (nonce) is in."""
        try:
            msgs = self.decoder.feed(data)
        except ProtocolError:
            msgs = []
        for msg in msgs:
            if msg.get("t") == Hello.T and not self.ready and self.server.secret is not None:
                try:
                    theirs = Hello.parse(msg).nonce
                except ProtocolError as e:
                    log.error("peer %s answered a bad hello: %s", self.name, e)
                    continue
                me = self.server.cfg.name
                mine = auth.proof(self.server.secret, "node", me, self.nonce, theirs)
                self._ready([encode_frame(Auth(mine).wire())])
            elif msg.get("t") == "error":
                log.error("peer %s refused this node: %s", self.name, msg.get("message"))

    def _ready(self, first: list[bytes]) -> None:
        assert self.transport is not None
        self.ready = True
        frames = [*first, *self.queue]
        self.queue.clear()
        if frames:
            self.transport.write(b"".join(frames))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.ready = False
        self.queue.clear()
        self.connecting = False
        if not self.server.stopping:
            self.server.feed(events.PeerUnreachable(self.name))


class NodeServer:
    """Wires a `Node` to sockets, timers and the writer thread."""

    def __init__(self, cfg: NodeConfig) -> None:
        self.cfg = cfg
        self.clock = SystemClock()
        self.secret = None if cfg.secret_file is None else auth.read_secret(cfg.secret_file)
        self.storage = SQLiteStorage(cfg.data_dir / "node.db")
        # Looked up on the module, so an intercept that replaces it (tests/intercepts) applies.
        actor = core.boot_actor(self.storage, cfg.name, int.from_bytes(os.urandom(4), "big"))
        self.node = core.Node(cfg, self.storage, random.Random(cfg.seed), actor)
        self.links = {
            p.name: PeerLink(self, p.name, p.host, p.port)
            for p in cfg.members
            if p.name != cfg.name
        }
        self.conns: dict[int, Inbound] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.stopping = False
        self._next_conn = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._corked: dict[asyncio.Transport, list[bytes]] = {}
        self._persists: list[events.Persist] = []

    def cork(self, transport: asyncio.Transport, frame: bytes) -> None:
        """Queues a frame; all frames queued in one loop iteration go out in one write."""
        if not self._corked:
            assert self.loop is not None
            self.loop.call_soon(self.flush)
        self._corked.setdefault(transport, []).append(frame)

    def flush(self) -> None:
        corked, self._corked = self._corked, {}
        for transport, frames in corked.items():
            if not transport.is_closing():
                transport.write(b"".join(frames))
        if self._persists:
            persists, self._persists = self._persists, []
            self.storage.write([item for p in persists for item in p.items])
            assert self.loop is not None
            self.loop.call_soon(self._persisted, [p.token for p in persists])

    def register(self, conn: Inbound) -> int:
        self._next_conn += 1
        self.conns[self._next_conn] = conn
        return self._next_conn

    def unregister(self, conn_id: int) -> None:
        self.conns.pop(conn_id, None)

    def feed(self, event: events.Event) -> None:
        if not self.stopping:  # the store closes on the way out
            self.execute(self.node.handle(event, self.clock.now()))

    def execute(self, effects: list[events.Effect]) -> None:
        for e in effects:
            if isinstance(e, SENDS):
                self._send(e)
            elif isinstance(e, events.Persist):
                if not self._persists and not self._corked:
                    assert self.loop is not None
                    self.loop.call_soon(self.flush)
                self._persists.append(e)
            elif isinstance(e, events.SetTimer):
                assert self.loop is not None
                self.timers[e.timer] = self.loop.call_later(e.delay_s, self._fire, e.timer)
            elif isinstance(e, events.CancelTimer):
                handle = self.timers.pop(e.timer, None)
                if handle is not None:
                    handle.cancel()
            elif isinstance(e, events.Log):
                log.log(logging.getLevelName(e.level.upper()), "%s", e.message)

    def _send(self, e: events.SendPeer | events.Reply) -> None:
        """One message out; a message too large to frame is logged and dropped, and the
        event's other effects (timers above all) still happen."""
        try:
            if isinstance(e, events.SendPeer):
                link = self.links.get(e.peer) or self._new_link(e.peer)
                if link is not None:
                    link.send(e.msg)
            else:
                conn = self.conns.get(e.conn)
                if conn is not None:
                    conn.send(e.msg)
        except ProtocolError as err:
            log.error("dropped a %r message: %s", e.msg.get("t"), err)

    def _new_link(self, peer: str) -> PeerLink | None:
        addr = self.node.membership.address_of(peer)
        if addr is None or peer == self.cfg.name:
            return None
        link = self.links[peer] = PeerLink(self, peer, addr[0], addr[1])
        return link

    def _fire(self, timer: int) -> None:
        self.timers.pop(timer, None)
        self.feed(events.TimerFired(timer))

    def _persisted(self, tokens: list[int]) -> None:
        for token in tokens:
            self.feed(events.Persisted(token))

    async def serve(self, ready: Callable[[], Any] | None = None) -> None:
        """Serves until SIGTERM/SIGINT (or `stop()`); durable writes are flushed on the way out."""
        self.loop = loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop_event.set)
        try:
            server = await loop.create_server(lambda: Inbound(self), self.cfg.host, self.cfg.port)
        except OSError as e:
            raise ListenError(f"cannot listen on {self.cfg.host}:{self.cfg.port}: "
                              f"{e.strerror or e}") from None  # fmt: skip
        self.execute(self.node.start(self.clock.now()))
        log.info("node %s (actor %s) serving on %s:%d", self.cfg.name, self.node.actor,
                 self.cfg.host, self.cfg.port)  # fmt: skip
        if ready is not None:
            ready()
        await self._stop_event.wait()
        self.stopping = True
        server.close()
        for handle in self.timers.values():
            handle.cancel()
        self.flush()
        for conn in list(self.conns.values()):
            if conn.transport is not None:
                conn.transport.close()
        self.storage.close()
        log.info("node %s stopped", self.cfg.name)

    def stop(self) -> None:
        self._stop_event.set()
