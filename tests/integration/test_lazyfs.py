"""LazyFS on a real FUSE mount: unsynced writes vanish at a crash, synced ones stay.

Mounting needs /dev/fuse and root (or fusermount3): CI runs as root with fuse3
installed, and this test fails (not skips) where FUSE is missing, since the
durability faults depend on it.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cluster import pid_alive
from harness.lazyfs_control import LazyMount, fuse_available

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def lazy(tmp_path: Path) -> Iterator[LazyMount]:
    why = fuse_available()
    assert why is None, f"FUSE must work here (CI runs as root with fuse3): {why}"
    mount = LazyMount.start(tmp_path / "node")
    try:
        yield mount
    finally:
        mount.stop()
    assert not os.path.ismount(mount.mount) and not pid_alive(mount.pid)


def test_unsynced_writes_are_dropped_by_a_crash_and_synced_ones_kept(lazy: LazyMount) -> None:
    path = lazy.mount / "f"
    with open(path, "wb") as f:
        f.write(b"durable")
        f.flush()
        os.fsync(f.fileno())
        f.write(b" and not")
        f.flush()
    assert path.read_bytes() == b"durable and not"  # what a live machine reads
    assert (lazy.backing / "f").read_bytes() == b"durable"  # what the disk holds
    after = lazy.crash()
    assert after["dropped_bytes"] == len(b" and not") and after["unsynced_bytes"] == 0
    assert after["crashes"] == 1
    assert path.read_bytes() == b"durable"


def test_sqlite_keeps_committed_rows_only_when_it_fsyncs(lazy: LazyMount) -> None:
    for name, sync in (("full.db", "FULL"), ("off.db", "OFF")):
        db = sqlite3.connect(lazy.mount / name, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={sync}")
        db.execute("CREATE TABLE t (x)")
        for i in range(20):
            db.execute("INSERT INTO t VALUES (?)", (i,))
        db.close()
    lazy.crash()
    full = sqlite3.connect(lazy.mount / "full.db")
    assert full.execute("SELECT count(*) FROM t").fetchone() == (20,)
    full.close()
    off = sqlite3.connect(lazy.mount / "off.db")
    with pytest.raises(sqlite3.DatabaseError):  # nothing of it reached the disk
        off.execute("SELECT count(*) FROM t").fetchone()
    off.close()
