"""Planted bug: once a node marks a peer down, it never marks it up again.

Reads and writes route around the peer and hints for it pile up, but every
acknowledged write stays on some replica and anti-entropy still repairs the
replicas, so the data checkers pass. Only the liveness checker (no live peer
considered down after quiescence) catches it: tests/quality/test_planted_fault_classes.py.
"""

from node import health


def _never_up(self, peer):  # type: ignore[no-untyped-def]
    return None


health.Health.mark_up = _never_up  # type: ignore[method-assign]
