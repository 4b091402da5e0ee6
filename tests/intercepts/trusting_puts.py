"""Planted bug: a put coordinator trusts that a sync write it has sent will be answered.

It never times out a replica and ignores a broken connection once the write
was written to it, so the request waits for that replica's reply forever. A
partition that holds bytes delivers the write late and the reply comes; a
lossy partition drops it, and the request stays in flight for good (a leak: a
node with requests stuck since the chaos). The client still gets its answer
once W replicas acked, and anti-entropy repairs the replica, so the data
checkers pass; the liveness checker sees requests that never drain:
tests/quality/test_planted_fault_classes.py.
"""

from node import coordinator

_on_unreachable = coordinator.PutRequest.on_unreachable


def _wait_forever(self):  # type: ignore[no-untyped-def]
    return None


def _only_if_unsent(self, peer, unsent=False):  # type: ignore[no-untyped-def]
    if unsent:
        _on_unreachable(self, peer, unsent)


coordinator.PutRequest.on_timeout = _wait_forever  # type: ignore[method-assign]
coordinator.PutRequest.on_unreachable = _only_if_unsent  # type: ignore[method-assign]
