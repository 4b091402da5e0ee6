"""Planted bug: the store commits without fsync (SQLite synchronous=OFF), yet acks.

A kill -9 loses nothing (the OS page cache keeps the writes), so only a fault
that drops what was not fsync'd (the `crash` nemesis on LazyFS) loses the
acknowledged writes. The simulator's disk (`MemoryStorage`) gets the same bug:
its commit skips the sync, so the simulated `crash` loses those writes too.
Caught by tests/quality/test_planted_fault_classes.py (real runs) and
tests/quality/test_sim_faults.py (`sibyl sim --nemesis crash`).
"""

import sqlite3

from node import storage

_connect = storage.SQLiteStorage._connect


def _connect_without_fsync(self):  # type: ignore[no-untyped-def]
    conn: sqlite3.Connection = _connect(self)
    conn.execute("PRAGMA synchronous=OFF")
    return conn


def _no_sync(self):  # type: ignore[no-untyped-def]
    """The commit returns without making anything durable."""


storage.SQLiteStorage._connect = _connect_without_fsync  # type: ignore[method-assign]
storage.MemoryStorage.sync = _no_sync  # type: ignore[method-assign]
