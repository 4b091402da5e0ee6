"""Planted bug: a replica acknowledges a write at once and writes it to disk a second later.

A crash right after the acknowledgements loses them.
Caught by tests.support.scenarios.crash_after_ack.
"""

from node.events import Persist
from node.replica import ReplicaStore

_store = ReplicaStore.store


def _store_acking_early(self, key, obj, on_durable, space=""):  # type: ignore[no-untyped-def]
    _store(self, key, obj, None, space)
    effects = self.outbox.effects
    persist = next(e for e in reversed(effects) if isinstance(e, Persist))
    effects.remove(persist)
    self.outbox.after(1.0, lambda: self.outbox.emit(persist))  # the disk write, later
    if on_durable is not None:
        self.outbox.after(0, on_durable)  # the acknowledgement, now


def _durable_now(self, key, callback, space=""):  # type: ignore[no-untyped-def]
    self.outbox.after(0, callback)


ReplicaStore.store = _store_acking_early  # type: ignore[method-assign]
ReplicaStore.when_durable = _durable_now  # type: ignore[method-assign]
