"""Anomalies in prose: what went wrong, to which ops, through which nodes, under which faults.

`panel(anomaly, run)` turns one checker anomaly (data, see checkers/explain.py)
into a `Panel`: a title, sentences in the words of its kind (a lost add, a
dominated sibling, a phantom, divergent replicas, a non-linearizable read...),
the ops it names with their role, and the faults active at each of those
moments. Kinds this module does not know still get a generic sentence that
names every op, so nothing is shown as a bare JSON dump.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from checkers.history import Op
from harness.linview import positions
from harness.rundata import RunData


@dataclass(frozen=True)
class Moment:
    """One op an anomaly names: its role in the story, and the faults active then."""

    index: int
    role: str
    op: Op | None
    faults: tuple[str, ...]


@dataclass
class Panel:
    """One anomaly as a person reads it."""

    checker: str
    kind: str
    key: str | None
    title: str
    sentences: list[str]
    moments: list[Moment]
    cause: str
    ops: list[int] = field(default_factory=list)

    @property
    def window(self) -> tuple[int, int]:
        times = [m.op.time for m in self.moments if m.op is not None]
        return (min(times), max(times)) if times else (0, 0)


def panel(checker: str, anomaly: Mapping[str, Any], run: RunData) -> Panel:
    """The panel for one anomaly of `checker`."""
    kind = str(anomaly.get("kind") or anomaly.get("type") or "anomaly")
    story = _Story(run, anomaly)
    _WORDS.get(kind, _generic)(story, anomaly.get("details") or {}, anomaly)
    for i in anomaly.get("ops") or ():
        story.name(int(i), "also involved", extra=True)
    bands = sorted({f for m in story.moments for f in m.faults})
    cause = "; ".join(bands) if bands else "no fault active at any of these moments"
    key = anomaly.get("key")
    title = f"{kind.replace('-', ' ')}" + (f" on {key}" if key else "")
    ops = sorted({m.index for m in story.moments})
    return Panel(checker, kind, key, title, story.sentences, story.moments, cause, ops)


class _Story:
    """Collects the sentences and the named ops of one panel."""

    def __init__(self, run: RunData, anomaly: Mapping[str, Any]) -> None:
        self.run, self.anomaly = run, anomaly
        self.sentences: list[str] = []
        self.moments: list[Moment] = []
        self._named: set[int] = set()
        self._covered: set[int | None] = set()

    def name(self, index: int | None, role: str, *, extra: bool = False) -> Op | None:
        """Names op `index` in `role` (once); returns the op.

        An `extra` name is skipped when either end of its client op is named
        already (an add's invoke is not "also involved" next to its ack).
        """
        if index is None:
            return None
        op = self.run.by_index.get(index)
        if index in self._named or (extra and index in self._covered):
            return op
        self._named.add(index)
        call = self.run.call_of(index)
        self._covered.update((index,) if call is None else (call.invoke_index, call.index))
        faults = tuple(b.summary for b in self.run.faults_at(op.time)) if op else ()
        self.moments.append(Moment(index, role, op, faults))
        return op

    def say(self, text: str) -> None:
        self.sentences.append(text)

    def op_phrase(self, index: int | None, role: str) -> str:
        """ "op 123 (process 4 through n2 at 3.412 s, while n4's clock ran 25 s behind)"."""
        op = self.name(index, role)
        if op is None:
            return f"op {index}" if index is not None else "an unknown op"
        who = f"process {op.process}" + (f" through {op.node}" if op.node else "")
        faults = [b.summary for b in self.run.faults_at(op.time)]
        during = f", during {'; '.join(faults)}" if faults else ", no fault active"
        return f"op {index} ({who} at {op.time / 1e9:.3f} s{during})"

    def invoke_of(self, index: int | None) -> int | None:
        """The invoke of the client op whose completion is `index`."""
        call = self.run.call_of(index) if index is not None else None
        return call.invoke_index if call is not None else None


def _lost(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    item, key = d.get("item"), a.get("key")
    ack = d.get("acknowledged")
    add = s.invoke_of(ack)
    s.say(f"Item {item} was added to {key} by {s.op_phrase(add, 'add invoked')}"
          + (f" and acknowledged by {s.op_phrase(ack, 'add acknowledged')}." if ack is not None
             else ", and the add was never acknowledged."))  # fmt: skip
    seen = d.get("last_seen")
    if seen is not None:
        s.say(f"The last read that saw it was {s.op_phrase(seen, 'last read with the item')}.")
    else:
        s.say("No read ever saw it.")
    first = d.get("first_missing")
    s.say(f"The first read without it was {s.op_phrase(first, 'first read without the item')}.")
    _superseding(s, first)
    finals = list(d.get("missing_in_final") or [])
    for i in finals[:3]:
        s.name(i, "final read without the item")
    nodes = sorted({op.node for i in finals if (op := s.run.by_index.get(i)) and op.node})
    s.say(f"It is missing from {len(finals)} final read(s) after the heal"
          + (f" (through {', '.join(nodes)})." if nodes else "."))  # fmt: skip


def _superseding(s: _Story, read_index: int | None) -> None:
    """Names the put(s) whose version the read returned instead, and their contexts."""
    read = s.run.by_index.get(read_index) if read_index is not None else None
    if read is None or not read.siblings:
        return
    for sib in read.siblings[:2]:
        put = sib.get("put") if isinstance(sib, dict) else None
        done = _put_completion(s.run, put)
        if done is None:
            continue
        parents = done.extra.get("parents") or []
        ctx = done.context or "an empty context"
        s.say(f"That read returned put {put} instead, made by "
              f"{s.op_phrase(done.index, f'put {put} that superseded it')}; that put carried "
              f"context {ctx!s:.24} covering {', '.join(map(str, parents)) or 'no earlier put'}"
              f", so it could not have merged the lost item.")  # fmt: skip


def _put_completion(run: RunData, put: Any) -> Op | None:
    return run.put_completion(put)


def _dominated(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    lo, hi = d.get("dominated"), d.get("by")
    s.say(f"{s.op_phrase(d.get('read'), 'read with both siblings')} returned put {lo} and "
          f"put {hi} side by side, but {hi} was written with a context that already covered "
          f"{lo}: {lo} should have been discarded, not kept as a sibling.")  # fmt: skip
    for put, role in ((lo, "dominated put"), (hi, "dominating put")):
        done = _put_completion(s.run, put)
        if done is not None:
            s.say(f"Put {put} is {s.op_phrase(done.index, role)}.")


def _phantom(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    rec = _first_op(a)
    other = d.get("written_to_key")
    s.say(
        f"{s.op_phrase(rec, 'read')} returned a version tagged put {d.get('put')}, which no "
        "client ever wrote to this key" + (f" (it was written to {other})." if other else ".")
    )


def _duplicate(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    s.say(
        f"{s.op_phrase(_first_op(a), 'read')} returned the same version twice as siblings: "
        f"put(s) {', '.join(map(str, d.get('puts') or []))}."
    )


def _unexpected(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    s.say(
        f"{s.op_phrase(_first_op(a), 'read')} showed item {d.get('item')}, which no add "
        "could have written."
    )


def _uncovered(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    done = _put_completion(s.run, d.get("put"))
    where = s.op_phrase(done.index, "acknowledged put") if done else f"put {d.get('put')}"
    finals = list(d.get("final_reads") or [])
    for i in finals[:3]:
        s.name(i, "final read not covering the put")
    s.say(
        f"The acknowledged put {d.get('put')} ({where}) is reflected in none of "
        f"{len(finals)} final read(s): no version they returned descends from it."
    )


def _divergent(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    groups = d.get("groups") or []
    parts = []
    for g in groups:
        what = g.get("puts") if "puts" in g else g.get("context")
        parts.append(f"{', '.join(g.get('nodes') or [])} held {what!s:.60}")
    for i in a.get("ops") or ():
        s.name(int(i), "replica read")
    s.say(
        f"After the final heal, in replica-read round {d.get('round')}, the replicas of "
        f"{a.get('key')} still disagreed: {'; '.join(parts)}."
    )


def _k_stale(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    s.say(
        f"{s.op_phrase(_first_op(a), 'stale read')} missed {d.get('k')} adds that were "
        f"acknowledged before it began (items {d.get('missed_items')})."
    )


def _resurrected(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    s.say(
        f"Item {d.get('item')} was removed by put {d.get('remove')}, yet "
        f"{s.op_phrase(d.get('read'), 'read with the item back')} showed it again in version "
        f"{d.get('version')}, which descends from the remove."
    )


def _cycle(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    s.say(
        f"The puts {', '.join(map(str, d.get('puts') or []))} each claim to descend from the "
        "next: their contexts form a cycle, which no causal history can have."
    )


def _nonlinear(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    pos = positions(s.run.history)  # the checker's times are positions, not indices
    call, ret = pos.get(int(a.get("call") or 0)), pos.get(int(a.get("return") or 0))
    s.say(
        f"Client {a.get('client')}'s {a.get('op')} cannot be linearized: after the longest "
        f"linearizable prefix of {a.get('longest_prefix')} operations, no order of the "
        f"concurrent ops explains what it returned. It ran from "
        f"{s.op_phrase(call, 'call')} to {s.op_phrase(ret, 'return')}."
    )
    read = s.run.by_index.get(ret) if ret is not None else None
    values = [v.get("value") if isinstance(v, dict) else v for v in (read.siblings or [])] \
        if read is not None else []  # fmt: skip
    if len(values) > 1:
        s.say(
            f"It returned {len(values)} values at once (siblings {values}): the store kept "
            "concurrent writes side by side, which no register can do."
        )
    for v in values:
        w = _write_of(s.run, read.key if read else None, v)
        if w is not None:
            s.say(f"The value {v} was written by {s.op_phrase(w, f'write of {v}')}.")


def _write_of(run: RunData, key: str | None, value: Any) -> int | None:
    """The invoke index of the write of `value` to `key`, if the history has one."""
    for c in run.calls:
        op = run.by_index.get(c.invoke_index)
        if c.f == "write" and c.key == key and op is not None and op.value == value:
            return c.invoke_index
    return None


def _generic(s: _Story, d: Mapping[str, Any], a: Mapping[str, Any]) -> None:
    ops = ", ".join(s.op_phrase(int(i), "involved") for i in (a.get("ops") or [])[:6])
    facts = ", ".join(f"{k} {v}" for k, v in d.items())
    s.say(f"The checker found this {a.get('kind') or a.get('type')} involving {ops or 'no op'}"
          + (f" ({facts})." if facts else "."))  # fmt: skip


def _first_op(a: Mapping[str, Any]) -> int | None:
    ops = a.get("ops") or []
    return int(ops[-1]) if ops else None


_WORDS: dict[str, Callable[[_Story, Mapping[str, Any], Mapping[str, Any]], None]] = {
    "lost": _lost, "dominated-sibling": _dominated, "phantom": _phantom,
    "duplicate": _duplicate, "unexpected": _unexpected, "uncovered": _uncovered,
    "divergent-siblings": _divergent, "divergent-context": _divergent,
    "k-stale-read": _k_stale, "resurrected": _resurrected, "cycle": _cycle,
    "not-linearizable": _nonlinear,
}  # fmt: skip
