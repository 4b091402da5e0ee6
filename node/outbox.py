"""The outbox port: everything a module may ask of the outside world during one event.

A module that sends a message, answers a client, arms a timer or counts
something takes an `Outbox`; what it asks for accumulates as effects
(`events.Effect`) until the core hands them to the I/O layer. Messages go
in as typed records (`messages.py`) and leave as wire maps.

Ids come from one counter per boot, shared by requests, timers and disk
tokens, starting at a boot-unique base, so a late reply meant for an earlier
boot never matches a request of this one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from node.events import CancelTimer, Effect, Log, Now, Reply, SendPeer, SetTimer
from node.messages import Answer, PeerMsg, answer_wire
from node.modes import LogLevel


def id_base(actor: str) -> int:
    """Where this boot's ids start: 40 bits from the (boot-unique) actor id."""
    return int.from_bytes(hashlib.md5(actor.encode()).digest()[:5], "big") << 22


class Outbox:
    """Effects of the event being handled, its time, timers by id, and the node's counters."""

    def __init__(self, actor: str) -> None:
        self.now = Now(0, 0.0)
        """When the event being handled happened (set by the core for each event)."""
        self.effects: list[Effect] = []
        self.counters: dict[str, int] = {}
        self._next_id = id_base(actor)
        self._timers: dict[int, Callable[[], None]] = {}

    def send(self, peer: str, msg: PeerMsg) -> None:
        """Sends `msg` to node `peer` (at most once; it may be lost)."""
        self.effects.append(SendPeer(peer, msg.wire()))

    def reply(self, conn: int, rid: Any, msg: Answer) -> None:
        """Answers client request `rid` on connection `conn`."""
        self.effects.append(Reply(conn, answer_wire(msg, rid)))

    def log(self, level: LogLevel, message: str) -> None:
        self.effects.append(Log(level, message))

    def emit(self, effect: Effect) -> None:
        self.effects.append(effect)

    def count(self, name: str, by: int = 1) -> None:
        """Adds `by` to counter `name` (reported by the `status` debug call)."""
        self.counters[name] = self.counters.get(name, 0) + by

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def after(self, delay_s: float, callback: Callable[[], None]) -> int:
        """Arms a one-shot timer; returns its id for `cancel`."""
        tid = self.new_id()
        self._timers[tid] = callback
        self.effects.append(SetTimer(tid, delay_s))
        return tid

    def every(self, interval_s: float, callback: Callable[[], None]) -> None:
        """Runs `callback` every `interval_s` seconds for the node's lifetime."""

        def tick() -> None:
            callback()
            self.after(interval_s, tick)

        self.after(interval_s, tick)

    def cancel(self, tid: int) -> None:
        if self._timers.pop(tid, None) is not None:
            self.effects.append(CancelTimer(tid))

    def fire(self, tid: int) -> None:
        """A timer fired: runs its callback unless it was cancelled."""
        callback = self._timers.pop(tid, None)
        if callback is not None:
            callback()

    def take(self) -> list[Effect]:
        """The effects gathered so far, in order; the outbox starts empty again."""
        out, self.effects = self.effects, []
        return out
