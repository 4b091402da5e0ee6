"""Planted bug: a node restarted from its disk ignores incoming syncs of keys it holds.

A node that has booted more than once (a kill and restart) keeps its own
object of a key when a sync brings another, instead of merging the two, as if
it trusted its disk more than its peers after a crash. Writes it missed while
down never reach it (not by handoff, repair or anti-entropy), so its replicas
stay behind: the convergence checker sees them differ. Only a run with a kill
fault shows it (tests/quality/test_sim.py).
"""

from node import versions
from node.replica import ReplicaStore

_init = ReplicaStore.__init__
_sync = ReplicaStore.sync


def _init_remembering_boot(self, storage, outbox, conflict):  # type: ignore[no-untyped-def]
    _init(self, storage, outbox, conflict)
    self.restarted = int(storage.meta_get("boot") or b"1") > 1


def _sync_after_restart(self, a, b):  # type: ignore[no-untyped-def]
    if getattr(self, "restarted", False) and a != versions.EMPTY:
        return a
    return _sync(self, a, b)


ReplicaStore.__init__ = _init_remembering_boot  # type: ignore[method-assign]
ReplicaStore.sync = _sync_after_restart  # type: ignore[method-assign]
