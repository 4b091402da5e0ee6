"""A link: one proxied connection, client socket ⇄ upstream socket, as two pipes.

Each direction is a `Half`. With no enabled toxic the half is *direct*: bytes
read from one transport are written straight to the other inside
`data_received`, and the write side's flow control (`pause_writing`) pauses the
read side, so a toxic-free link costs one callback per read and buffers nothing
of its own. With toxics the half queues chunks (bounded: reading pauses above
`QUEUE_HIGH_BYTES`) and a pump task feeds them through the toxics in order; when
the queue drains and no toxic is enabled, the pump ends and the half is direct
again. Only one pump runs per half, so bytes keep their order.

Closing follows Toxiproxy: when either direction ends (end of stream, error, or a
toxic closing it), both sockets are closed once what was already written has
been flushed; a reset discards it and sends RST.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import Any

from harness.toxiproxy.spec import Stream, ToxicSpec
from harness.toxiproxy.toxics import BEHAVIOURS, Chunk, ToxicRun, closes_on_removal

log = logging.getLogger("sibyl.toxiproxy")

#: A toxic half stops reading its source above this many queued bytes...
QUEUE_HIGH_BYTES = 256 * 1024
#: ...and reads again below this many.
QUEUE_LOW_BYTES = 64 * 1024
#: Size of a side's first read buffer...
READ_BUFFER_BYTES = 64 * 1024
#: ...grown (×4 at a time) up to this size while reads keep filling it (bulk traffic).
MAX_READ_BUFFER_BYTES = 1024 * 1024


class Side(asyncio.BufferedProtocol):
    """One socket of a link. Reads feed `out` (the half it is the source of); write
    flow control throttles `into` (the half it is the destination of).

    Reads go into one reusable buffer (no allocation per read; it grows while reads
    fill it, so only bulk links pay for a large one), handed to the
    destination transport as a view. The transport may keep that view while it
    cannot send it all, so every transport's write high-water mark is 0: any unsent
    byte pauses the reading side until the transport has drained completely, and
    only then is the buffer filled again."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.transport: asyncio.Transport | None = None
        self.out: Half | None = None
        self.into: Half | None = None
        self._buffer = memoryview(bytearray(READ_BUFFER_BYTES))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.set_write_buffer_limits(high=0)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        if self.out is not None:
            self.out.feed(self._buffer[:nbytes])
        size = len(self._buffer)
        if nbytes == size and size < MAX_READ_BUFFER_BYTES:
            self._buffer = memoryview(bytearray(size * 4))

    def eof_received(self) -> bool:
        if self.out is not None:
            self.out.feed_eof()
        return True  # keep the socket; the link decides when to close it

    def connection_lost(self, exc: Exception | None) -> None:
        if self.out is not None:
            self.out.feed_eof()
        if self.into is not None:
            self.into.dest_lost()

    def pause_writing(self) -> None:
        if self.into is not None:
            self.into.set_dest_full(True)

    def resume_writing(self) -> None:
        if self.into is not None:
            self.into.set_dest_full(False)


class Half:
    """One direction of a link: reads `source`, runs the toxics, writes `dest`."""

    def __init__(self, link: Link, stream: Stream, source: Side, dest: Side) -> None:
        self.link = link
        self.stream = stream
        self.source = source
        self.dest = dest
        self.rng = link.rng
        self.runs: list[ToxicRun] = []
        self.direct = True
        self.queue: deque[Chunk | None] = deque()
        self.queued_bytes = 0
        self.pump: asyncio.Task[None] | None = None
        self.eof = False
        self._dest_full = False
        self._queue_full = False
        self._drained: asyncio.Future[None] | None = None
        self._loop = asyncio.get_running_loop()
        source.out = self
        dest.into = self

    # -- the Pipe protocol used by toxics --
    def now(self) -> float:
        return self._loop.time()

    def close_link(self) -> None:
        self.link.close()

    def reset_link(self) -> None:
        self.link.reset()

    # -- input --
    def feed(self, view: memoryview) -> None:
        """Takes bytes read from the source (a view of the source's read buffer,
        which is reused once the destination has drained)."""
        if self.direct:
            transport = self.dest.transport
            if transport is not None and not self.link.closed:
                transport.write(view)
            return
        data = bytes(view)
        self.queue.append(Chunk(data, self._loop.time()))
        self.queued_bytes += len(data)
        if self.queued_bytes > QUEUE_HIGH_BYTES and not self._queue_full:
            self._queue_full = True
            self._update_reading()
        self._start_pump()

    def feed_eof(self) -> None:
        """Takes the end of the source's stream (once)."""
        if self.eof:
            return
        self.eof = True
        if self.direct:
            self.link.close()
            return
        self.queue.append(None)
        self._start_pump()

    # -- toxics --
    def attach(self, spec: ToxicSpec, order: int) -> None:
        """Starts running `spec` on this direction (rolling its toxicity)."""
        self.runs.append(ToxicRun(spec, order, self))
        self._refresh_direct()

    def update(self, spec: ToxicSpec) -> None:
        for run in self.runs:
            if run.spec.name == spec.name:
                run.update(spec)
        self._refresh_direct()

    def detach(self, name: str) -> None:
        close = False
        for run in [r for r in self.runs if r.spec.name == name]:
            self.runs.remove(run)
            close = close or closes_on_removal(run)
            run.detach()
        self._refresh_direct()
        if close:
            self.close_link()

    def stop(self) -> None:
        """Ends the half with its link: stops the pump and every toxic's timers."""
        for run in self.runs:
            run.detach()
        self.runs.clear()
        if self.pump is not None and self.pump is not asyncio.current_task():
            self.pump.cancel()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- flow control --
    def set_dest_full(self, full: bool) -> None:
        self._dest_full = full
        self._update_reading()
        if not full and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def dest_lost(self) -> None:
        self.link.close()

    def _update_reading(self) -> None:
        transport = self.source.transport
        if transport is None or transport.is_closing():
            return
        if self._dest_full or self._queue_full:
            transport.pause_reading()
        else:
            transport.resume_reading()

    # -- the pump --
    def _refresh_direct(self) -> None:
        idle = self.pump is None and not self.queue
        self.direct = idle and not any(run.enabled for run in self.runs)

    def _start_pump(self) -> None:
        if self.pump is None and not self.link.closed:
            self.pump = self._loop.create_task(self._run_pump())

    async def _run_pump(self) -> None:
        try:
            while self.queue and not self.link.closed:
                item = self.queue.popleft()
                if item is None:
                    await self._through_eof(-1)
                    return
                self.queued_bytes -= len(item.data)
                if self._queue_full and self.queued_bytes < QUEUE_LOW_BYTES:
                    self._queue_full = False
                    self._update_reading()
                await self._through(-1, item)
        except asyncio.CancelledError:
            pass
        except OSError as exc:
            log.warning("%s: %s pipe failed: %s", self.link.describe(), self.stream, exc)
            self.link.close()
        finally:
            self.pump = None
            self._refresh_direct()

    def _next_run(self, after_order: int) -> ToxicRun | None:
        for run in self.runs:
            if run.order > after_order and run.enabled:
                return run
        return None

    async def _through(self, after_order: int, chunk: Chunk) -> None:
        run = self._next_run(after_order)
        if run is None:
            await self._write(chunk)
            return
        order = run.order
        await BEHAVIOURS[run.spec.kind].on_chunk(run, chunk, lambda c: self._through(order, c))

    async def _through_eof(self, after_order: int) -> None:
        run = self._next_run(after_order)
        if run is None:
            self.link.close()
            return
        order = run.order
        await BEHAVIOURS[run.spec.kind].on_eof(run, lambda: self._through_eof(order))

    async def _write(self, chunk: Chunk) -> None:
        while self._dest_full and not self.link.closed:
            self._drained = self._loop.create_future()
            await self._drained
        transport = self.dest.transport
        if transport is not None and not self.link.closed:
            transport.write(chunk.data)


class Link:
    """A client connection accepted by a proxy and its upstream connection."""

    def __init__(self, name: str, rng: random.Random, on_close: Callable[[Link], None]) -> None:
        self.name = name
        self.rng = rng
        self.closed = False
        self.client = Side(self)
        self.upstream = Side(self)
        self.halves: dict[Stream, Half] = {}
        self._on_close = on_close

    def describe(self) -> str:
        """A short label for logs."""
        return f"proxy {self.name}"

    def connect(self, toxics: list[tuple[int, ToxicSpec]]) -> None:
        """Joins the two sides with a half each way, attaching `toxics` (order, spec).
        Called when the client is accepted, before the upstream is dialled."""
        self.halves[Stream.UPSTREAM] = Half(self, Stream.UPSTREAM, self.client, self.upstream)
        self.halves[Stream.DOWNSTREAM] = Half(self, Stream.DOWNSTREAM, self.upstream, self.client)
        for order, spec in toxics:
            self.halves[spec.stream].attach(spec, order)

    def close(self) -> None:
        """Closes both sockets after flushing written data (a FIN to each peer)."""
        if self._finish():
            for side in (self.client, self.upstream):
                if side.transport is not None:
                    side.transport.close()

    def abort(self) -> None:
        """Closes both sockets at once, discarding unsent data."""
        if self._finish():
            for side in (self.client, self.upstream):
                if side.transport is not None:
                    side.transport.abort()

    def reset(self) -> None:
        """Resets both connections: SO_LINGER 0, then close, so each peer gets an RST."""
        if self._finish():
            for side in (self.client, self.upstream):
                if side.transport is not None:
                    _set_linger_zero(side.transport)
                    side.transport.abort()

    def _finish(self) -> bool:
        if self.closed:
            return False
        self.closed = True
        for half in self.halves.values():
            half.stop()
        self._on_close(self)
        return True


def _set_linger_zero(transport: asyncio.Transport) -> None:
    sock: Any = transport.get_extra_info("socket")
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:  # already closed by the peer: nothing left to reset
        pass
