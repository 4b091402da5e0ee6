"""The toxics: what each kind does to one direction of one connection.

A toxic attached to a live connection is a `ToxicRun`: the spec, the connection's
own toxicity roll (made when it is attached and again when it is updated, as
Toxiproxy re-runs a toxic on update), and per-connection state. The pipe feeds
each chunk of bytes (and finally the end of stream) through the enabled runs in
the order the toxics were added; a behaviour hands what it lets through to
`emit`, which carries it to the next toxic and finally to the socket.

Invariants: a behaviour never drops bytes except where its kind says so
(timeout, limit_data after the limit, reset_peer); every wait ends early when
the toxic is updated or removed, and a removed toxic lets its held data through
at once (Toxiproxy's "don't drop data on the floor"), except a timeout toxic,
which dropped what it saw and closes its connection when removed (Toxiproxy's
TimeoutToxic.Cleanup). Randomness (jitter, slice sizes,
toxicity) comes only from the pipe's seeded `random.Random`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from harness.toxiproxy.spec import ToxicKind, ToxicSpec


@dataclass(slots=True)
class Chunk:
    """Bytes read from a socket, stamped with the loop time `t` they arrived (or,
    after a latency toxic, the time they became due)."""

    data: bytes
    t: float


Emit = Callable[[Chunk], Awaitable[None]]
EmitEof = Callable[[], Awaitable[None]]


class Pipe(Protocol):
    """What a behaviour may use of the connection it runs on."""

    rng: random.Random

    def now(self) -> float:
        """The event loop's monotonic time, in seconds."""
        ...

    def close_link(self) -> None:
        """Closes both sockets of the connection after flushing what was written."""
        ...

    def reset_link(self) -> None:
        """Resets both sockets of the connection (TCP RST, unsent data discarded)."""
        ...


class ToxicRun:
    """One toxic attached to one direction of one connection."""

    def __init__(self, spec: ToxicSpec, order: int, pipe: Pipe) -> None:
        self.spec = spec
        self.order = order
        self.pipe = pipe
        self.enabled = pipe.rng.random() < spec.toxicity
        self.detached = False
        self.sent_bytes = 0  # limit_data: bytes let through on this connection
        self.free_at = 0.0  # bandwidth: when the link is next free to send
        self._changed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def update(self, spec: ToxicSpec) -> None:
        """Applies new attributes/toxicity; re-rolls toxicity and wakes any waiter."""
        self.spec = spec
        self.enabled = self.pipe.rng.random() < spec.toxicity
        self._disarm()
        self._arm()
        self._notify()

    def detach(self) -> None:
        """Removes the toxic from this connection; whatever it holds passes on at once."""
        self.detached = True
        self._disarm()
        self._notify()

    async def wait(self, delay_s: float | None) -> bool:
        """Waits `delay_s` seconds (None: forever). Returns True when the time elapsed,
        False when the toxic was updated or removed first."""
        changed = self._changed
        if delay_s is None:
            await changed
            return False
        done, _ = await asyncio.wait((changed,), timeout=max(delay_s, 0.0))
        return not done

    async def wait_until(self, deadline: float) -> None:
        """Waits until loop time `deadline`, or less if the toxic is removed."""
        while not self.detached:
            remaining = deadline - self.pipe.now()
            if remaining <= 0:
                return
            await self.wait(remaining)

    async def hold(self) -> None:
        """Waits until the toxic is removed (updates keep holding)."""
        while not self.detached:
            await self.wait(None)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.get_running_loop().create_future()
        changed.set_result(None)

    def _arm(self) -> None:
        # A timeout toxic with timeout > 0 closes the connection that long after it
        # starts running on it, whether or not data flows (Toxiproxy's TimeoutToxic).
        if self.enabled and self.spec.kind is ToxicKind.TIMEOUT and self.spec.attr("timeout"):
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self.spec.attr("timeout") / 1000, self.pipe.close_link)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def _pass(run: ToxicRun, chunk: Chunk, emit: Emit) -> None:
    await emit(chunk)


async def _pass_eof(run: ToxicRun, emit_eof: EmitEof) -> None:
    await emit_eof()


async def _latency(run: ToxicRun, chunk: Chunk, emit: Emit) -> None:
    # Delay = latency ± jitter, counted from when the chunk arrived, so chunks in
    # flight are delayed concurrently rather than one after another.
    delay_ms = run.spec.attr("latency")
    jitter_ms = run.spec.attr("jitter")
    if jitter_ms:
        delay_ms += run.pipe.rng.randrange(2 * jitter_ms) - jitter_ms
    due = chunk.t + delay_ms / 1000
    await run.wait_until(due)
    await emit(Chunk(chunk.data, max(chunk.t, due)))


async def _bandwidth(run: ToxicRun, chunk: Chunk, emit: Emit) -> None:
    # Token-bucket pacing at `rate` KB/s, in pieces of at most 100 ms worth so that
    # a large read trickles out rather than arriving in one late burst. Rate 0
    # lets nothing through until the toxic is removed.
    rate = run.spec.attr("rate")
    if rate == 0:
        await run.hold()
        await emit(chunk)
        return
    piece_size = rate * 100
    data = chunk.data
    for offset in range(0, len(data), piece_size):
        piece = data[offset : offset + piece_size]
        run.free_at = max(run.free_at, run.pipe.now()) + len(piece) / (rate * 1000)
        await run.wait_until(run.free_at)
        await emit(Chunk(piece, chunk.t))


def slice_sizes(total: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Splits `total` bytes into sizes of `average` ± `variation` (each ≥ 1) summing to
    `total`. Pure apart from `rng`."""
    sizes: list[int] = []
    remaining = total
    while remaining > 0:
        size = average + (rng.randint(-variation, variation) if variation else 0)
        size = min(max(size, 1), remaining)
        sizes.append(size)
        remaining -= size
    return sizes


async def _slicer(run: ToxicRun, chunk: Chunk, emit: Emit) -> None:
    spec = run.spec
    sizes = slice_sizes(
        len(chunk.data), spec.attr("average_size"), spec.attr("size_variation"), run.pipe.rng
    )
    offset = 0
    for index, size in enumerate(sizes):
        await emit(Chunk(chunk.data[offset : offset + size], chunk.t))
        offset += size
        if index + 1 < len(sizes) and spec.attr("delay"):
            await run.wait_until(run.pipe.now() + spec.attr("delay") / 1_000_000)


async def _limit_data(run: ToxicRun, chunk: Chunk, emit: Emit) -> None:
    allowed = run.spec.attr("bytes") - run.sent_bytes
    piece = chunk.data[: max(allowed, 0)]
    if piece:
        run.sent_bytes += len(piece)
        await emit(Chunk(piece, chunk.t))
    if run.sent_bytes >= run.spec.attr("bytes"):
        run.pipe.close_link()


async def _timeout(run: ToxicRun, chunk: Chunk, emit: Emit) -> None:
    # As Toxiproxy's TimeoutToxic: nothing passes and the data is dropped on the
    # floor (never delivered, even after the toxic is removed). The close after
    # `timeout` ms is ToxicRun's timer; the close at removal is `closes_on_removal`.
    return


async def _timeout_eof(run: ToxicRun, emit_eof: EmitEof) -> None:
    await emit_eof()  # Toxiproxy closes the link when its input ends


def closes_on_removal(run: ToxicRun) -> bool:
    """True when removing this toxic closes its connection: Toxiproxy's timeout toxic
    has a Cleanup that closes the link, so a connection that lost data while it
    was in place is not reused as if nothing happened."""
    return run.enabled and run.spec.kind is ToxicKind.TIMEOUT


async def _reset_peer(run: ToxicRun, chunk: Chunk, emit: Emit) -> None:
    # The first data after the toxic starts triggers a reset `timeout` ms later.
    await run.wait_until(run.pipe.now() + run.spec.attr("timeout") / 1000)
    if run.detached:
        await emit(chunk)
    else:
        run.pipe.reset_link()


async def _reset_peer_eof(run: ToxicRun, emit_eof: EmitEof) -> None:
    await run.wait_until(run.pipe.now() + run.spec.attr("timeout") / 1000)
    if run.detached:
        await emit_eof()
    else:
        run.pipe.reset_link()


async def _slow_close_eof(run: ToxicRun, emit_eof: EmitEof) -> None:
    await run.wait_until(run.pipe.now() + run.spec.attr("delay") / 1000)
    await emit_eof()


OnChunk = Callable[[ToxicRun, Chunk, Emit], Awaitable[None]]
OnEof = Callable[[ToxicRun, EmitEof], Awaitable[None]]


@dataclass(frozen=True)
class Behaviour:
    """What a kind does with a chunk and with the end of the stream."""

    on_chunk: OnChunk = _pass
    on_eof: OnEof = _pass_eof


BEHAVIOURS: dict[ToxicKind, Behaviour] = {
    ToxicKind.NOOP: Behaviour(),
    ToxicKind.LATENCY: Behaviour(on_chunk=_latency),
    ToxicKind.BANDWIDTH: Behaviour(on_chunk=_bandwidth),
    ToxicKind.SLOW_CLOSE: Behaviour(on_eof=_slow_close_eof),
    ToxicKind.TIMEOUT: Behaviour(on_chunk=_timeout, on_eof=_timeout_eof),
    ToxicKind.RESET_PEER: Behaviour(on_chunk=_reset_peer, on_eof=_reset_peer_eof),
    ToxicKind.SLICER: Behaviour(on_chunk=_slicer),
    ToxicKind.LIMIT_DATA: Behaviour(on_chunk=_limit_data),
}
