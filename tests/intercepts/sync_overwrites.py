"""Planted bug: a replica applies an incoming object by overwriting instead of merging.

Concurrent writes through different coordinators then lose siblings.
Caught by tests.support.scenarios.concurrent_blind_puts.
"""

from node import versions


def _overwrite(local: versions.Versioned, incoming: versions.Versioned) -> versions.Versioned:
    return incoming


versions.sync = _overwrite
