"""Workload coroutines on the simulator's virtual time: a client and a tiny scheduler.

The workloads are `async` and talk to a `workloads.base.KVClient`. On real
processes that is `node.client.Client` on asyncio; here it is `SimClient`,
whose calls yield a request to the `Scheduler` instead of awaiting a socket.
The scheduler submits the request to the `Simulator` with a reply callback;
when the simulated cluster answers (a step of its agenda), the coroutine is
resumed with the reply. `sleep` parks a coroutine until a virtual time; the
scheduler's `run` moves the agenda to the next wake-up. No asyncio, no
threads, no wall clock: a run is a function of the seed and the calls made.
"""

from __future__ import annotations

import gc
import heapq
import itertools
from collections.abc import Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Final

from node.client import ConnectionLost, GetResult, NodeError
from node.messages import (
    A,
    ClientReq,
    ErrorReply,
    Get,
    GetOk,
    LocalGet,
    LocalGetOk,
    Put,
    PutOk,
    Status,
    StatusOk,
    decode_answer,
)
from node.protocol import Message
from node.sim.cluster import Simulator


@dataclass(slots=True)  # `__init__` written out, so that mypyc compiles it (node/events.py)
class _Send:
    """What a coroutine yields to ask for a client request."""

    node: str
    msg: Message

    def __init__(self, node: str, msg: Message) -> None:
        self.node = node
        self.msg = msg


@dataclass(slots=True)
class _Sleep:
    """What a coroutine yields to wait until virtual time `until_ms`."""

    until_ms: int

    def __init__(self, until_ms: int) -> None:
        self.until_ms = until_ms


class _Yield:
    """An awaitable that hands `what` to the scheduler and returns what it resumes with."""

    def __init__(self, what: _Send | _Sleep) -> None:
        self.what = what

    def __await__(self) -> Generator[Any, Any, Any]:
        return (yield self.what)


async def sleep_until(until_ms: int) -> None:
    """Parks the calling coroutine until virtual time `until_ms`."""
    await _Yield(_Sleep(until_ms))


# Errors the simulator gives for a request whose fate nobody knows (docs/node.md).
_INDETERMINATE = {"timeout": TimeoutError, "closed": ConnectionLost, "unreachable": ConnectionError}


class SimClient:
    """A `KVClient` of one simulated node: get, put and the debug local_get and status."""

    def __init__(self, node: str) -> None:
        self.node = node

    async def call(self, msg: ClientReq, expect: type[A]) -> A:
        """One request; its answer, or NodeError / TimeoutError / ConnectionLost as a socket
        client would raise them."""
        reply = await _Yield(_Send(self.node, msg.wire()))
        if reply.get("t") == "error" and reply.get("code") in _INDETERMINATE:
            raise _INDETERMINATE[reply["code"]](f"{self.node}: {reply.get('message')}")
        answer = decode_answer(reply, expect)
        if isinstance(answer, ErrorReply):
            raise NodeError(answer.code, answer.message)
        return answer

    async def get(self, key: str) -> GetResult:
        r = await self.call(Get(key), GetOk)
        return GetResult(list(r.siblings), r.context, r.node)

    async def put(self, key: str, value: bytes, context: bytes = b"") -> None:
        await self.call(Put(key, value, context), PutOk)

    async def local_get(self, key: str) -> dict[str, Any]:
        return (await self.call(LocalGet(key), LocalGetOk)).wire()

    async def status(self) -> dict[str, Any]:
        """Debug: the node's status, as `node.client.Client.status` (liveness counters)."""
        return (await self.call(Status(), StatusOk)).wire()


class Scheduler:
    """Runs coroutines on `sim`'s virtual time until each has finished.

    Guarantee: a coroutine is resumed only from `run` (at a wake-up) or from a
    reply the simulator delivers, so the interleaving is fixed by the seed.
    An exception a coroutine raises stops the run and is raised by `run`.
    """

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self._sleepers: list[tuple[int, int, Coroutine[Any, Any, Any]]] = []
        self._seq = itertools.count()
        self.live = 0
        self._error: BaseException | None = None
        self._wake = _NEVER
        """While the cluster runs: the wake-up it runs to (`_NEVER` while every coroutine
        waits for a reply); a coroutine resumed by a reply that is done, fails or sleeps
        until before it interrupts the run (`_resume`)."""

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Starts `coro` now (it runs until its first request or sleep)."""
        self.live += 1
        self._resume(coro, None)

    def _resume(self, coro: Coroutine[Any, Any, Any], value: Any) -> None:
        try:
            what = coro.send(value)
        except StopIteration:
            self.live -= 1
            if not self.live:
                self.sim.interrupt()  # nothing left to run for
            return
        except BaseException as e:  # noqa: BLE001 - surfaced by run()
            self.live -= 1
            self._error = self._error or e
            self.sim.interrupt()
            return
        if isinstance(what, _Send):
            self.sim.request(what.node, what.msg, lambda reply: self._resume(coro, reply))
        elif isinstance(what, _Sleep):
            heapq.heappush(self._sleepers, (what.until_ms, next(self._seq), coro))
            if what.until_ms < self._wake:
                self.sim.interrupt()  # it wakes before the run would stop
        else:
            raise TypeError(f"a simulated coroutine awaited {what!r}, not a SimClient call")

    def run(self) -> None:
        """Runs the cluster until every coroutine has finished.

        The cyclic collector is paused meanwhile: a run makes little cyclic garbage (a
        120 s run peaks at the same memory either way) but many objects, and the
        collector's passes over them cost several percent of the run.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._run()
        finally:
            if collecting:
                gc.enable()

    def _run(self) -> None:
        # The cluster runs to the next wake-up, or until a resumed coroutine fails, ends
        # the last one, or sleeps less long (`_resume` interrupts it then).
        while self.live and self._error is None:
            if self._sleepers:
                self._wake = self._sleepers[0][0]
                self.sim.run_until_interrupted(max(0, self._wake - self.sim.now_ms))
                self._wake = _NEVER
                while self._sleepers and self._sleepers[0][0] <= self.sim.now_ms:
                    self._resume(heapq.heappop(self._sleepers)[2], None)
            else:  # everyone waits for a reply: every request gets one by its deadline;
                # stop as soon as a resumed coroutine sleeps (or all are done), so it wakes
                # on time instead of after the rest of the client timeout
                self.sim.run_until_interrupted(self.sim.config.client_timeout_ms)
        if self._error is not None:
            raise self._error


_NEVER: Final = 1 << 62
"""A wake-up no run reaches (virtual ms)."""
