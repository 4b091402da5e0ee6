"""Explanations: every anomaly is data that names what a reader needs to act on it.

An `Anomaly` names its kind, the key, the history indices of the ops involved,
their processes and nodes, the faults active in the time window around it, and
kind-specific `details` (plain JSON values). Checkers store `Anomaly.to_dict()`
in `Result.anomalies`, so results serialise as JSON unchanged.

The faults come from the nemesis records (docs/history.md): a `start` opens a
fault, a `stop` with the same `id` closes it, and the final `heal` closes every
fault still open. `FaultTimeline.active(t0, t1)` returns the faults whose
interval overlaps [t0, t1].
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from checkers.history import Op


class Involved(Protocol):
    """Anything an anomaly can name: an op record with indices, a process and a node."""

    @property
    def indices(self) -> tuple[int, ...]: ...

    @property
    def process(self) -> int | str: ...

    @property
    def node(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault interval from the nemesis records; `stop_time` None means never stopped."""

    id: Any
    kind: str
    value: dict[str, Any]
    start_index: int
    start_time: int
    stop_index: int | None = None
    stop_time: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "shape": self.value.get("shape"),
            "targets": self.value.get("targets"),
            "start_index": self.start_index,
            "stop_index": self.stop_index,
        }


@dataclass
class FaultTimeline:
    """The faults of one history, plus the final heal (index and time) if recorded."""

    faults: list[Fault] = field(default_factory=list)
    heal_index: int | None = None
    heal_time: int | None = None
    warnings: list[str] = field(default_factory=list)
    _open: dict[Any, Fault] = field(default_factory=dict)

    def record(self, op: Op) -> None:
        """Takes one nemesis op (in history order) and updates the timeline."""
        if op.f == "heal":
            self.heal_index, self.heal_time = op.index, op.time
            for fid in list(self._open):
                self._close(fid, op)
            return
        value = op.value if isinstance(op.value, dict) else {}
        fid = value.get("id")
        if op.f == "start":
            fault = Fault(fid, str(value.get("kind", "?")), value, op.index, op.time)
            self._open[_hashable(fid)] = fault
        elif op.f == "stop":
            if _hashable(fid) in self._open:
                self._close(_hashable(fid), op)
            else:
                self.warnings.append(f"op {op.index}: nemesis stop of fault {fid!r} never started")

    def _close(self, fid: Any, op: Op) -> None:
        f = self._open.pop(fid)
        self.faults.append(
            Fault(f.id, f.kind, f.value, f.start_index, f.start_time, op.index, op.time)
        )

    def finish(self) -> None:
        """Moves faults never stopped into `faults` (open-ended)."""
        self.faults.extend(self._open.values())
        self._open.clear()
        self.faults.sort(key=lambda f: f.start_time)

    def active(self, t0: int, t1: int) -> list[Fault]:
        """Returns the faults whose interval overlaps the time window [t0, t1]."""
        return [
            f
            for f in self.faults
            if f.start_time <= t1 and (f.stop_time is None or f.stop_time >= t0)
        ]


def _hashable(v: Any) -> Any:
    return v if isinstance(v, str | int | float | type(None)) else repr(v)


@dataclass
class Anomaly:
    """One anomaly as data: kind, key, involved ops, processes, nodes, faults, details."""

    kind: str
    key: str | None
    ops: list[int]
    processes: list[int | str]
    nodes: list[str]
    faults: list[dict[str, Any]]
    details: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "ops": self.ops,
            "processes": self.processes,
            "nodes": self.nodes,
            "faults": self.faults,
            "details": self.details,
        }


def explain(
    kind: str,
    key: str | None,
    involved: Iterable[Involved | None],
    timeline: FaultTimeline,
    window: tuple[int, int],
    **details: Any,
) -> dict[str, Any]:
    """Builds the anomaly dict for `kind` on `key`.

    Takes the involved op records (None entries are skipped), the history's fault
    timeline and the time window [t0, t1] in which the anomaly happened; returns
    `Anomaly.to_dict()` with sorted, de-duplicated indices, processes and nodes.
    """
    recs = [r for r in involved if r is not None]
    ops = sorted({i for r in recs for i in r.indices})
    procs = sorted({r.process for r in recs}, key=_process_order)
    nodes = sorted({r.node for r in recs if r.node is not None})
    faults = [f.to_dict() for f in timeline.active(*window)]
    return Anomaly(kind, key, ops, procs, nodes, faults, details).to_dict()


def _process_order(p: int | str) -> tuple[int, int, str]:
    """Numbers first, in numeric order, then names."""
    return (0, p, "") if isinstance(p, int) else (1, 0, str(p))


class AnomalySink:
    """Collects anomaly dicts, keeping at most `limit` per kind and counting all of them."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: list[dict[str, Any]] = []
        self.counts: dict[str, int] = {}

    def add(self, anomaly: dict[str, Any]) -> None:
        kind = anomaly["kind"]
        n = self.counts.get(kind, 0)
        self.counts[kind] = n + 1
        if n < self.limit:
            self.items.append(anomaly)

    def kinds(self) -> Sequence[str]:
        return sorted(self.counts)
