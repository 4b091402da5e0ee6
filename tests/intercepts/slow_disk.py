"""Not a bug, a condition: every commit waits 1 s first (a slow disk).

Paired with ack_before_fsync to widen the crash window; the correct node on
the same slow disk just acknowledges later.
"""

import time

from node import storage

_write = storage.SQLiteStorage.write


def _slow_write(self, items):  # type: ignore[no-untyped-def]
    time.sleep(1.0)  # runs in the writer thread, not the event loop
    _write(self, items)


storage.SQLiteStorage.write = _slow_write  # type: ignore[method-assign]
