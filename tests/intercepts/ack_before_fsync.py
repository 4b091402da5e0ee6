"""Planted bug: a replica acknowledges a write before it is on disk.

Run it with tests.intercepts.slow_disk so a crash right after the
acknowledgements loses them deterministically.
Caught by tests.support.scenarios.crash_after_ack.
"""

from node import core

_store = core.Node.store


def _store_acking_early(self, key, obj, on_durable, space=""):  # type: ignore[no-untyped-def]
    _store(self, key, obj, None, space)
    if on_durable is not None:
        self.after(0, on_durable)  # next tick, long before the disk has it


def _durable_now(self, key, callback, space=""):  # type: ignore[no-untyped-def]
    self.after(0, callback)


core.Node.store = _store_acking_early  # type: ignore[method-assign]
core.Node.when_durable = _durable_now  # type: ignore[method-assign]
