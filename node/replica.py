"""The replica store port: a node's local objects (and hint stores), durable or not yet.

Reads go through the synchronous `Storage`; writes become `Persist` effects,
and an object not yet durable stays in an in-memory overlay so later requests
see it. `when_durable` calls back once the current state of a key is on disk:
a replica acknowledges a write only then.
"""

from __future__ import annotations

from collections.abc import Callable

from node import versions
from node.events import Persist
from node.modes import ConflictMode
from node.outbox import Outbox
from node.storage import OBJECTS, Storage
from node.versions import Versioned

ChangeListener = Callable[[str, bytes], None]
"""Told (key, encoded object) on every change to the replica store (not hint stores)."""


class ReplicaStore:
    """Local state of every key in every space, with durability callbacks."""

    def __init__(self, storage: Storage, outbox: Outbox, conflict: ConflictMode) -> None:
        self.storage = storage
        self.outbox = outbox
        self.conflict = conflict
        self.change_listeners: list[ChangeListener] = []
        self._dirty: dict[tuple[str, str], tuple[Versioned | None, int]] = {}
        self._token_key: dict[int, tuple[str, str]] = {}
        self._on_durable: dict[int, list[Callable[[], None]]] = {}

    def local(self, key: str, space: str = OBJECTS) -> Versioned:
        """The newest local state of `key` in `space` (objects, or a hint store), durable or not."""
        pending = self._dirty.get((space, key))
        if pending is not None:
            return pending[0] or versions.EMPTY
        data = self.storage.read(key, space)
        return versions.EMPTY if data is None else versions.decode(data)

    def store(
        self,
        key: str,
        obj: Versioned | None,
        on_durable: Callable[[], None] | None,
        space: str = OBJECTS,
    ) -> None:
        """Makes `obj` the local state of `key` in `space` (None deletes it).

        Calls `on_durable` once the write is on disk, and tells the change
        listeners (anti-entropy) about every change to the replica store.
        """
        token = self.outbox.new_id()
        self._dirty[(space, key)] = (obj, token)
        self._token_key[token] = (space, key)
        self._on_durable[token] = [on_durable] if on_durable else []
        data = None if obj is None else versions.encode(obj)
        self.outbox.emit(Persist(token, ((space, key, data),)))
        if space == OBJECTS and data is not None:
            for listener in self.change_listeners:
                listener(key, data)

    def when_durable(self, key: str, callback: Callable[[], None], space: str = OBJECTS) -> None:
        """Calls `callback` once the current local state of `key` is on disk (maybe now)."""
        pending = self._dirty.get((space, key))
        if pending is None:
            callback()
        else:
            self._on_durable[pending[1]].append(callback)

    def persisted(self, token: int) -> None:
        """The write with `token` is on disk: runs its durability callbacks."""
        key = self._token_key.pop(token, None)
        pending = self._dirty.get(key) if key is not None else None
        if key is not None and pending is not None and pending[1] == token:
            del self._dirty[key]
        for callback in self._on_durable.pop(token, []):
            callback()

    def merge_into_local(self, key: str, incoming: Versioned, space: str = OBJECTS) -> Versioned:
        """Sync-merges `incoming` into the local state (never overwrites); returns the result."""
        local = self.local(key, space)
        merged = self.sync(local, incoming)
        if merged is not local and merged != local:
            self.store(key, merged, None, space)
        return merged

    def sync(self, a: Versioned, b: Versioned) -> Versioned:
        """The configured merge: siblings, or last-write-wins."""
        if self.conflict is ConflictMode.LWW:
            return versions.sync_lww(a, b)
        return versions.sync(a, b)

    def replica_view(self, key: str, hint: str | None) -> Versioned:
        """What this node holds for `key`: its replica, merged with the hint for `hint` if any."""
        obj = self.local(key)
        return obj if hint is None else self.sync(obj, self.local(key, hint))
