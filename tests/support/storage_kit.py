"""Conformance kit for the `node.storage.Storage` port.

Every implementation must pass `check_storage` with an adapter that opens
the store, reopens it after a clean close, and crashes a writer of it:

* reads see the last write of a key in its space (objects, or a hint store
  per target), deletes remove, and one `write` applies its items in order;
* `hints`, `hint_counts` and `keys` list what they promise, sorted, and
  `keys` never lists hints;
* metadata values are kept apart from objects;
* after a clean reopen everything is still there, and after a crash every
  write that had returned is there and no write that had not returned is.
"""

from __future__ import annotations

from typing import Protocol

from node.storage import OBJECTS, Storage


class Adapter(Protocol):
    """How the kit drives one implementation."""

    def open(self) -> Storage:
        """A fresh, empty store."""
        ...

    def reopen(self, storage: Storage) -> Storage:
        """The same store after a clean shutdown."""
        ...

    def crash(self, durable: list[str], unsynced: list[str]) -> Storage:
        """A fresh store's writer makes writes of each `durable` key return, has writes of
        each `unsynced` key under way (not returned), and dies; returns the store reopened."""
        ...


def check_storage(adapter: Adapter) -> None:
    """Runs every check of the kit against `adapter`; raises AssertionError naming a failure."""
    check_reads_and_writes(adapter.open())
    check_listings(adapter.open())
    check_reopen(adapter)
    check_crash(adapter)


def check_reads_and_writes(s: Storage) -> None:
    assert s.read("k") is None and s.meta_get("m") is None
    s.write([(OBJECTS, "k", b"1"), ("n2", "k", b"hint"), (OBJECTS, "k", b"2")])
    assert s.read("k") == b"2", "the last item of one write for a key wins"
    assert s.read("k", "n2") == b"hint" and s.read("k", "n3") is None
    s.write([(OBJECTS, "k", None)])
    assert s.read("k") is None and s.read("k", "n2") == b"hint", "a delete is per space"
    s.write([])
    s.meta_put("m", b"meta")
    assert s.meta_get("m") == b"meta" and s.read("m") is None


def check_listings(s: Storage) -> None:
    s.write([(OBJECTS, k, b"v") for k in ("c", "a", "b")])
    s.write([("n2", k, k.encode()) for k in ("z", "x", "y")] + [("n3", "q", b"q")])
    assert list(s.keys()) == ["a", "b", "c"], "keys: sorted, objects only"
    assert s.hints("n2", 2) == [("x", b"x"), ("y", b"y")], "hints: by key, limited"
    assert s.hint_counts() == {"n2": 3, "n3": 1}
    s.write([("n3", "q", None)])
    assert s.hint_counts() == {"n2": 3}, "a target with no hints left is not listed"


def check_reopen(adapter: Adapter) -> None:
    s = adapter.open()
    s.write([(OBJECTS, "k", b"v"), ("n2", "h", b"w")])
    s.meta_put("boot", b"3")
    s = adapter.reopen(s)
    assert s.read("k") == b"v" and s.read("h", "n2") == b"w" and s.meta_get("boot") == b"3"


def check_crash(adapter: Adapter) -> None:
    durable, unsynced = [f"d{i}" for i in range(5)], [f"u{i}" for i in range(5)]
    s = adapter.crash(durable, unsynced)
    assert [k for k in durable if s.read(k) is None] == [], "a returned write was lost"
    assert [k for k in unsynced if s.read(k) is not None] == [], "an unreturned write survived"
