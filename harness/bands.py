"""Fault bands: each nemesis fault as an interval on the history's time base, in words.

A band runs from when the fault's start began to when its stop began (or the
final heal, or the end of the history when neither came). Its `summary` says
what the fault did in one phrase a person can read: which side of a partition
was cut off from which, whose clock ran how far ahead or behind, which node was
killed or paused. Every figure and every anomaly panel of the report uses these
same bands, so the words match everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from checkers.history import Op

CLIENT = "client"


@dataclass(frozen=True)
class Band:
    """One fault interval (ns on the history's time base) and what it did."""

    id: Any
    kind: str
    start: int
    end: int
    summary: str
    targets: tuple[str, ...] = ()
    skew_s: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def during(self) -> str:
        """The fault as a clause: "n4's clock ran 25 s behind", "n2, n5 were cut off from n1"."""
        body = self.summary.split(": ", 1)[-1]
        who = ", ".join(self.targets)
        were = "was" if len(self.targets) == 1 else "were"
        if self.kind == "clock":
            return body.replace("'s clock ", "'s clock ran ")
        if self.kind == "partition":
            return body.replace(" cut off from", " were cut off from")
        if self.kind == "kill":
            return f"{who} {were} down (killed)"
        if self.kind == "pause":
            return f"{who} {were} paused"
        return f"the fault '{self.summary}' was active"

    def covers(self, t: int) -> bool:
        return self.start <= t <= self.end

    def overlaps(self, t0: int, t1: int) -> bool:
        return self.start <= t1 and self.end >= t0


def fault_bands(history: Iterable[Op]) -> list[Band]:
    """Returns the bands of every nemesis fault in `history`, by start time."""
    open_: dict[Any, tuple[int, dict[str, Any]]] = {}
    out: list[Band] = []
    end = 0
    for op in history:
        end = max(end, op.time)
        if not op.is_nemesis:
            continue
        v = op.value if isinstance(op.value, dict) else {}
        at = int(v.get("began", op.time))
        fid = _key(v.get("id"))
        if op.f == "start":
            open_[fid] = (at, v)
        elif op.f == "stop" and fid in open_:
            out.append(_band(*open_.pop(fid), at))
        elif op.f == "heal":
            out.extend(_band(s, rec, at) for s, rec in open_.values())
            open_.clear()
    out.extend(_band(s, rec, end) for s, rec in open_.values())
    return sorted(out, key=lambda b: (b.start, str(b.id)))


def heal_time(history: Iterable[Op]) -> int | None:
    """When the final heal began (ns), or None if the history has none."""
    at = None
    for op in history:
        if op.is_nemesis and op.f == "heal":
            v = op.value if isinstance(op.value, dict) else {}
            at = int(v.get("began", op.time))
    return at


def _key(v: Any) -> Any:
    return v if isinstance(v, str | int | float | type(None)) else repr(v)


def _band(start: int, rec: Mapping[str, Any], end: int) -> Band:
    kind = str(rec.get("kind", "?"))
    targets = tuple(str(t) for t in rec.get("targets") or ())
    skew = {str(k): float(v) for k, v in (rec.get("skew_s") or {}).items() if v is not None}
    err = rec.get("error")
    summary = describe(kind, rec, targets, skew)
    if err:
        summary += f" (could not be applied: {err})"
    return Band(rec.get("id"), kind, start, max(start, end), summary, targets, skew,
                str(err) if err else None)  # fmt: skip


def describe(
    kind: str, rec: Mapping[str, Any], targets: Sequence[str], skew: Mapping[str, float]
) -> str:
    """One phrase for what a fault did, e.g. "partition: n4, n5 cut off from n1, n2, n3"."""
    raw = rec.get("params")
    params: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    who = ", ".join(targets) or "?"
    if kind == "partition":
        links = [tuple(link) for link in rec.get("links") or params.get("links") or ()]
        return "partition: " + (partition_sides(links) or str(rec.get("shape") or "links cut"))
    if kind == "clock":
        delta = params.get("delta_s")
        parts = [f"{n}'s clock {_ahead(s)}" for n, s in sorted(skew.items()) if s]
        if not parts and isinstance(delta, int | float):
            parts = [f"{n}'s clock {_ahead(float(delta))}" for n in targets]
        op = params.get("op", rec.get("op", "bump"))
        how = " (strobing to and fro)" if op == "strobe" else ""
        return "clock: " + ("; ".join(parts) or f"{who} reset") + how
    if kind == "kill":
        return f"kill: {who} killed (kill -9), restarted at the end"
    if kind == "pause":
        return f"pause: {who} paused (SIGSTOP), resumed at the end"
    if kind == "latency":
        return f"latency: +{params.get('latency_ms', '?')} ms on the links of {who}"
    if kind == "bandwidth":
        return f"bandwidth: links of {who} limited to {params.get('rate_kbps', '?')} kB/s"
    return f"{kind}: {who}"


def _ahead(s: float) -> str:
    return f"{round(abs(s), 1):g} s {'ahead' if s > 0 else 'behind'}"


def partition_sides(links: Sequence[tuple[Any, ...]]) -> str:
    """Which nodes were cut off from which, from the cut (from, to) links.

    Nodes that still reach each other form a side; with clean sides the
    answer is "n4, n5 cut off from n1, n2, n3". Otherwise (bridges, rings)
    it lists, per node, the nodes it could not reach.
    """
    cut = {(str(a), str(b)) for a, b, *_ in links if CLIENT not in (a, b)}
    nodes = sorted({n for link in cut for n in link}, key=_node_order)
    if not nodes:
        return ""
    sides = _sides(nodes, cut)
    if len(sides) > 1 and all(
        (a, b) in cut or (b, a) in cut for s in sides for t in sides if s is not t
        for a in s for b in t
    ):  # fmt: skip
        sides.sort(key=len)
        rest = [n for s in sides[1:] for n in s]
        return f"{', '.join(sides[0])} cut off from {', '.join(sorted(rest, key=_node_order))}"
    lost = {n: sorted({b for a, b in cut if a == n}, key=_node_order) for n in nodes}
    return "; ".join(f"{n} cannot reach {', '.join(ls)}" for n, ls in lost.items() if ls)


def _sides(nodes: list[str], cut: set[tuple[str, str]]) -> list[list[str]]:
    """Connected groups of nodes over the links that were not cut (either direction)."""
    seen: set[str] = set()
    out: list[list[str]] = []
    for n in nodes:
        if n in seen:
            continue
        group, todo = [], [n]
        seen.add(n)
        while todo:
            a = todo.pop()
            group.append(a)
            for b in nodes:
                if b not in seen and (a, b) not in cut and (b, a) not in cut:
                    seen.add(b)
                    todo.append(b)
        out.append(sorted(group, key=_node_order))
    return out


def _node_order(n: str) -> tuple[int, str]:
    digits = "".join(c for c in n if c.isdigit())
    return (int(digits) if digits else 0, n)
