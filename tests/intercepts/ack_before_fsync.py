"""Planted bug: a replica acknowledges a write at once and writes it to disk a second later.

A crash right after the acknowledgements loses them.
Caught by tests.support.scenarios.crash_after_ack.
"""

from node import core

_store = core.Node.store


def _store_acking_early(self, key, obj, on_durable, space=""):  # type: ignore[no-untyped-def]
    _store(self, key, obj, None, space)
    persist = next(e for e in reversed(self._out) if isinstance(e, core.Persist))
    self._out.remove(persist)
    self.after(1.0, lambda: self._out.append(persist))  # the disk write, later
    if on_durable is not None:
        self.after(0, on_durable)  # the acknowledgement, now


def _durable_now(self, key, callback, space=""):  # type: ignore[no-untyped-def]
    self.after(0, callback)


core.Node.store = _store_acking_early  # type: ignore[method-assign]
core.Node.when_durable = _durable_now  # type: ignore[method-assign]
