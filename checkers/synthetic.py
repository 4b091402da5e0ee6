"""Hand-built cart histories (docs/history.md) for tests and worked examples.

`HistoryBuilder` writes ops with increasing indices and times (1 ms apart by
default). Atomic helpers (`read`, `add`, `remove`) write an invoke and its
completion back to back; `invoke` / `complete` write them separately, for
concurrent ops. Siblings are given as (put id, items) pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from checkers.history import NEMESIS, Op, OpType

Sibling = tuple[str, Iterable[Any]]
_MS = 1_000_000


def siblings(sibs: Sequence[Sibling]) -> list[dict[str, Any]]:
    """Returns stored values for (put id, items) pairs: {"put": ..., "items": sorted}."""
    return [{"put": p, "items": sorted(items)} for p, items in sibs]


class HistoryBuilder:
    """Appends ops to a history; `ops` is the result."""

    def __init__(self, step_ns: int = _MS) -> None:
        self.ops: list[Op] = []
        self.time = 0
        self.step_ns = step_ns

    def emit(self, process: int | str, typ: OpType, f: str, **kw: Any) -> int:
        """Appends one op at the next time step; returns its index."""
        self.time += self.step_ns
        i = len(self.ops)
        self.ops.append(Op(i, self.time, process, typ, f, **kw))
        return i

    def wait(self, ms: int) -> None:
        """Advances the clock by `ms` milliseconds."""
        self.time += ms * _MS

    def invoke(self, process: int, f: str, key: str, value: Any = None, **extra: Any) -> int:
        return self.emit(process, OpType.INVOKE, f, key=key, value=value, extra=extra)

    def complete_read(
        self, process: int, key: str, sibs: Sequence[Sibling], node: str = "n1", **extra: Any
    ) -> int:
        return self.emit(
            process,
            OpType.OK,
            "read",
            key=key,
            siblings=siblings(sibs),
            context="ctx",
            node=node,
            extra=extra,
        )

    def complete_write(
        self,
        process: int,
        f: str,
        key: str,
        item: Any,
        put: str | None,
        parents: Sequence[str] = (),
        *,
        typ: OpType = OpType.OK,
        error: str | None = None,
        node: str = "n1",
    ) -> int:
        extra = {} if put is None else {"put": put, "parents": list(parents)}
        return self.emit(process, typ, f, key=key, value=item, node=node, error=error, extra=extra)

    def read(
        self,
        process: int,
        key: str,
        sibs: Sequence[Sibling],
        *,
        final: bool = False,
        node: str = "n1",
    ) -> int:
        """A complete read; returns the completion's index."""
        extra = {"final": True} if final else {}
        self.invoke(process, "read", key, **extra)
        return self.complete_read(process, key, sibs, node, **extra)

    def add(
        self,
        process: int,
        key: str,
        item: Any,
        put: str | None,
        parents: Sequence[str] = (),
        *,
        typ: OpType = OpType.OK,
        error: str | None = None,
        f: str = "add",
    ) -> int:
        """A complete add (or remove, with f="remove"); returns the completion's index."""
        self.invoke(process, f, key, item)
        return self.complete_write(process, f, key, item, put, parents, typ=typ, error=error)

    def remove(self, process: int, key: str, item: Any, put: str, parents: Sequence[str]) -> int:
        return self.add(process, key, item, put, parents, f="remove")

    def replica_read(
        self, key: str, node: str, sibs: Sequence[Sibling], context: str, rnd: int = 0
    ) -> int:
        return self.emit(
            "checker",
            OpType.OK,
            "replica-read",
            key=key,
            node=node,
            siblings=siblings(sibs),
            context=context,
            extra={"round": rnd},
        )

    def fault(self, f: str, fid: int, kind: str = "partition", targets: Sequence[str] = ()) -> int:
        value = {"id": fid, "kind": kind, "shape": "one", "targets": list(targets), "params": {}}
        return self.emit(NEMESIS, OpType.INFO, f, value=value)

    def heal(self) -> int:
        return self.emit(NEMESIS, OpType.INFO, "heal", value={})
