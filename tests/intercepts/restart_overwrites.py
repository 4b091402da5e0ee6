"""Planted bug: a node restarted from its disk overwrites its replicas with incoming syncs.

Until its next boot, a node that has booted more than once (a kill and
restart) takes an incoming object in place of its own instead of merging the
two, as if it trusted its peers more than its disk after a crash. Siblings it
held alone are lost, so acknowledged adds can vanish. Only a run with a kill
fault shows it: found by `sibyl sim --nemesis kill` (tests/quality/test_sim.py).
"""

from node import versions
from node.replica import ReplicaStore

_init = ReplicaStore.__init__
_sync = ReplicaStore.sync


def _init_remembering_boot(self, storage, outbox, conflict):  # type: ignore[no-untyped-def]
    _init(self, storage, outbox, conflict)
    self.restarted = int(storage.meta_get("boot") or b"1") > 1


def _sync_after_restart(self, a, b):  # type: ignore[no-untyped-def]
    if getattr(self, "restarted", False) and b != versions.EMPTY:
        return b
    return _sync(self, a, b)


ReplicaStore.__init__ = _init_remembering_boot  # type: ignore[method-assign]
ReplicaStore.sync = _sync_after_restart  # type: ignore[method-assign]
