"""Durable local storage: the Storage port and its two implementations.

`SQLiteStorage` keeps objects, hints and node metadata in one SQLite file in
WAL mode with synchronous=FULL: `write` returns only after the transaction is
fsync'd, so a replica acknowledges a write only once it is on disk. Reads and
writes use separate connections, so a writer thread can commit batches while
the event loop reads (WAL readers never block the writer).

`MemoryStorage` is the simulator's disk. The node hands writes to its I/O layer
as `Persist` effects; a simulated kill drops the ones not yet carried out, so
what `MemoryStorage` holds is exactly what was acknowledged durable. It keeps
a page cache too: a write is durable once synced (each write syncs, as
SQLiteStorage's commit does), and a simulated power cut loses what was not.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final, Protocol

from mypy_extensions import mypyc_attr

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS hints (
    target TEXT NOT NULL, key TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (target, key));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""

OBJECTS: Final = ""
"""The space of a node's own replicas; any other space name is a hint store for that target."""

Write = tuple[str, str, bytes | None]
"""(space, key, data): data None deletes. Space OBJECTS is the replica store, else hints."""


class Storage(Protocol):
    """A node's disk: objects by key plus small named metadata values."""

    def read(self, key: str, space: str = OBJECTS) -> bytes | None:
        """The stored bytes of `key` in `space`, or None."""
        ...

    def write(self, items: Sequence[Write]) -> None:
        """Applies all `items` atomically, in order; durable when it returns."""
        ...

    def hints(self, target: str, limit: int) -> list[tuple[str, bytes]]:
        """Up to `limit` hints held for `target`, as (key, data), by key."""
        ...

    def hint_counts(self) -> dict[str, int]:
        """How many hints are held per target."""
        ...

    def keys(self) -> Iterator[str]:
        """Every stored key, in sorted order."""
        ...

    def meta_get(self, name: str) -> bytes | None:
        """A metadata value, or None."""
        ...

    def meta_put(self, name: str, value: bytes) -> None:
        """Stores a metadata value; durable when it returns."""
        ...


@mypyc_attr(native_class=False)  # mypyc cannot compile a native subclass of RuntimeError
class StorageError(RuntimeError):
    """The data directory cannot be used; the message names it."""


class SQLiteStorage:
    """SQLite in WAL mode, synchronous=FULL: fsync before every commit returns."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._w = self._connect()
            self._w.executescript(_SCHEMA)
            self._r = self._connect()
        except (OSError, sqlite3.Error) as e:
            raise StorageError(f"cannot open the store {self.path}: {e}") from None
        self._wlock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def read(self, key: str, space: str = OBJECTS) -> bytes | None:
        if space == OBJECTS:
            row = self._r.execute("SELECT data FROM objects WHERE key=?", (key,)).fetchone()
        else:
            q = "SELECT data FROM hints WHERE target=? AND key=?"
            row = self._r.execute(q, (space, key)).fetchone()
        return None if row is None else bytes(row[0])

    def write(self, items: Sequence[Write]) -> None:
        if not items:
            return
        with self._wlock:
            self._w.execute("BEGIN IMMEDIATE")
            try:
                for space, key, data in items:
                    self._w.execute(*_statement(space, key, data))
            except BaseException:
                self._w.execute("ROLLBACK")
                raise
            self._w.execute("COMMIT")

    def hints(self, target: str, limit: int) -> list[tuple[str, bytes]]:
        q = "SELECT key, data FROM hints WHERE target=? ORDER BY key LIMIT ?"
        return [(k, bytes(d)) for k, d in self._r.execute(q, (target, limit))]

    def hint_counts(self) -> dict[str, int]:
        q = "SELECT target, COUNT(*) FROM hints GROUP BY target ORDER BY target"
        return {t: n for t, n in self._r.execute(q)}

    def keys(self) -> Iterator[str]:
        rows = self._r.execute("SELECT key FROM objects ORDER BY key").fetchall()
        return iter([r[0] for r in rows])

    def meta_get(self, name: str) -> bytes | None:
        row = self._r.execute("SELECT value FROM meta WHERE name=?", (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def meta_put(self, name: str, value: bytes) -> None:
        with self._wlock:
            self._w.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def close(self) -> None:
        with self._wlock:
            self._w.close()
        self._r.close()


def _statement(space: str, key: str, data: bytes | None) -> tuple[str, tuple[Any, ...]]:
    if space == OBJECTS:
        if data is None:
            return "DELETE FROM objects WHERE key=?", (key,)
        return "INSERT OR REPLACE INTO objects VALUES (?, ?)", (key, data)
    if data is None:
        return "DELETE FROM hints WHERE target=? AND key=?", (space, key)
    return "INSERT OR REPLACE INTO hints VALUES (?, ?, ?)", (space, key, data)


class MemoryStorage:
    """An in-memory disk for the simulator and unit tests, with a page cache.

    Every change lands in the cache (what reads see) and is then made durable by
    `sync`, as SQLite's synchronous=FULL commit fsyncs before it returns, so a
    `write` or `meta_put` is durable when it returns. `lose_unsynced` is a power
    cut on a lazy filesystem (harness/lazyfs.py): the cache falls back to what
    was synced. Kept as an undo log of unsynced changes, emptied by each sync.
    """

    def __init__(self) -> None:
        self._spaces: dict[str, dict[str, bytes]] = {OBJECTS: {}}
        self._meta: dict[str, bytes] = {}
        self._undo: list[tuple[dict[str, bytes], str, bytes | None]] = []

    def read(self, key: str, space: str = OBJECTS) -> bytes | None:
        return self._spaces.get(space, {}).get(key)

    def write(self, items: Sequence[Write]) -> None:
        for space, key, data in items:
            self._set(self._spaces.setdefault(space, {}), key, data)
        self.sync()

    def hints(self, target: str, limit: int) -> list[tuple[str, bytes]]:
        return sorted(self._spaces.get(target, {}).items())[:limit] if target else []

    def hint_counts(self) -> dict[str, int]:
        return {t: len(b) for t, b in sorted(self._spaces.items()) if t and b}

    def keys(self) -> Iterator[str]:
        return iter(sorted(self._spaces[OBJECTS]))

    def meta_get(self, name: str) -> bytes | None:
        return self._meta.get(name)

    def meta_put(self, name: str, value: bytes) -> None:
        self._set(self._meta, name, value)
        self.sync()

    # --- the page cache (the simulator's crash and wipe faults) ----------------

    def _set(self, bucket: dict[str, bytes], key: str, data: bytes | None) -> None:
        self._undo.append((bucket, key, bucket.get(key)))
        if data is None:
            bucket.pop(key, None)
        else:
            bucket[key] = data

    def sync(self) -> None:
        """fsync: every change so far is durable (survives `lose_unsynced`)."""
        self._undo.clear()

    def unsynced(self) -> int:
        """How many changes a power cut would lose now."""
        return len(self._undo)

    def lose_unsynced(self) -> int:
        """A power cut: every change since the last `sync` is undone; returns how many."""
        lost = len(self._undo)
        for bucket, key, before in reversed(self._undo):
            if before is None:
                bucket.pop(key, None)
            else:
                bucket[key] = before
        self._undo.clear()
        return lost
