"""The indexed view of a cart or set history that the Dynamo checkers share.

`index_history` reads a history (docs/history.md) once and returns a
`CartHistory`: completed reads, write attempts (add / remove) with their
outcome, replica reads, and the fault timeline. Each client op's invoke and
completion are paired by process. An op still open at the end of the history
counts as indeterminate (Jepsen: no completion is like `info`).

Outcomes follow docs/history.md: `ok` is acknowledged; `fail` whose error
starts with ``"get:"`` wrote nothing (definite); every other `fail`, every
`info` and every unfinished op is indeterminate: the put may have landed.

A history that cannot be interpreted (a completion with no invoke, a read
without siblings, a sibling that is not ``{"put": ..., "items": [...]}``)
raises `HistoryShapeError`, which names the history index and what was wrong;
checkers turn it into an "unknown" verdict with that reason.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any

from mypy_extensions import mypyc_attr

from checkers.budget import Budget, BudgetExceeded
from checkers.explain import FaultTimeline
from checkers.history import CHECKER, NEMESIS, HistoryError, Op, OpType, read_jsonl
from checkers.result import UNKNOWN, Result

_OK, _INFO = OpType.OK, OpType.INFO
READ = "read"
REPLICA_READ = "replica-read"
WRITES = ("add", "remove")


class HistoryShapeError(HistoryError):
    """A well-formed JSON history whose ops do not fit the cart/set conventions."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__("<history>", index, f"op {index}: {message}")


class Outcome(StrEnum):
    OK = "ok"
    INDETERMINATE = "indeterminate"
    NOT_WRITTEN = "not-written"


@dataclass(slots=True, init=False)
class Read:
    """A completed client read: its invoke and completion, siblings, and final flag."""

    key: str
    invoke_index: int
    index: int
    invoke_time: int
    time: int
    process: int | str
    node: str | None
    siblings: list[dict[str, Any]]
    final: bool

    def __init__(self, key: str, invoke_index: int, index: int, invoke_time: int, time: int,
                 process: int | str, node: str | None, siblings: list[dict[str, Any]],
                 final: bool) -> None:  # fmt: skip
        # written out, not generated: a mypyc build compiles this one, while it runs the
        # dataclass's generated __init__ interpreted (a quarter of the indexing time)
        self.key, self.siblings, self.final = key, siblings, final
        self.invoke_index, self.invoke_time, self.process = invoke_index, invoke_time, process
        self.index, self.time, self.node = index, time, node

    @property
    def indices(self) -> tuple[int, ...]:
        return (self.invoke_index, self.index)

    def items(self) -> set[Any]:
        """The cart the client saw: the union of the siblings' items."""
        sibs = self.siblings
        try:
            if len(sibs) == 1:  # most reads
                return set(sibs[0]["items"])
            out: set[Any] = set()
            for s in sibs:
                out.update(s["items"])
        except TypeError:
            raise HistoryShapeError(
                self.index, "sibling items must be numbers or strings"
            ) from None
        return out


def carts_of(reads: list[Read]) -> list[set[Any]]:
    """`[r.items() for r in reads]`, a call less per read (most reads have one sibling)."""
    try:
        return [set(s[0]["items"]) if len(s := r.siblings) == 1 else r.items() for r in reads]
    except TypeError:  # an unhashable item: `items` names the read
        return [r.items() for r in reads]


@dataclass(slots=True, init=False)
class Write:
    """An add or remove attempt: get, then put. `put` is the new put id, if known."""

    f: str
    key: str
    item: Any
    invoke_index: int
    index: int | None
    invoke_time: int
    time: int
    process: int | str
    node: str | None
    outcome: Outcome
    put: str | None
    parents: list[str]
    error: str | None

    def __init__(self, f: str, key: str, item: Any, invoke_index: int, index: int | None,
                 invoke_time: int, time: int, process: int | str, node: str | None,
                 outcome: Outcome, put: str | None, parents: list[str],
                 error: str | None) -> None:  # fmt: skip
        # written out, not generated: see `Read.__init__`
        self.f, self.key, self.item, self.outcome = f, key, item, outcome
        self.invoke_index, self.invoke_time, self.process = invoke_index, invoke_time, process
        self.index, self.time, self.node = index, time, node
        self.put, self.parents, self.error = put, parents, error

    @property
    def indices(self) -> tuple[int, ...]:
        return (self.invoke_index,) if self.index is None else (self.invoke_index, self.index)


@dataclass(slots=True)
class ReplicaRead:
    """A per-replica local read from the debug API (process "checker")."""

    key: str
    index: int
    time: int
    node: str | None
    round: int
    siblings: list[Any]
    context: str | None
    process: int | str = "checker"

    @property
    def indices(self) -> tuple[int, ...]:
        return (self.index,)


@dataclass
class CartHistory:
    """The indexed history: reads and writes in invoke order, replica reads, faults."""

    reads: list[Read] = field(default_factory=list)
    writes: list[Write] = field(default_factory=list)
    replica_reads: list[ReplicaRead] = field(default_factory=list)
    timeline: FaultTimeline = field(default_factory=FaultTimeline)
    n_ops: int = 0
    end_time: int = 0


@mypyc_attr(native_class=False)  # a list subclass, with class-level defaults: a Python class
class SharedHistory(list[Op]):
    """A run's history (a list of ops) that every checker of the run shares.

    The first Dynamo checker that reads it indexes it (`cart_index`), and the others
    reuse that index instead of building their own; checkers that want plain
    ops (e.g. linearizable) read it as the list it is. The index is read-only
    for checkers. A history that cannot be interpreted fails every checker with
    the same error; a blown time budget is not remembered (the next checker
    tries again within its own budget).
    """

    _index: CartHistory | None = None
    _error: HistoryError | None = None

    def cart_index(self, budget: Budget) -> CartHistory:
        """The shared `CartHistory`, built on first use (raises like `index_history`)."""
        if self._error is not None:
            raise self._error
        if self._index is None:
            try:
                self._index = index_history(self, budget)
            except HistoryError as e:
                self._error = e
                raise
        return self._index


History = Iterable[Op] | str | Path | CartHistory


def run_checked(
    body: Callable[[CartHistory, Budget], Result], history: History, time_limit_s: float
) -> Result:
    """Indexes `history` and runs `body` on it within `time_limit_s`.

    A history that cannot be read or interpreted, a blown time budget, or an
    internal error gives an "unknown" Result whose stats name the reason (and
    the line, if any; a traceback for an internal error).
    """
    budget = Budget(time_limit_s)
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the records are acyclic; cyclic GC passes over 1M ops cost more than the check
    try:
        return body(load(history, budget), budget)
    # a name per exception type: a mypyc build gives a name one type for the whole function
    except HistoryError as bad:
        return Result(UNKNOWN, stats={"reason": str(bad), "line": bad.line})
    except BudgetExceeded as late:
        return Result(UNKNOWN, stats={"reason": str(late)})
    except Exception as e:  # noqa: BLE001 - a checker bug must give "unknown", not a crash
        reason = f"checker error: {type(e).__name__}: {e}"
        return Result(UNKNOWN, stats={"reason": reason, "traceback": traceback.format_exc()})
    finally:
        if gc_was_enabled:
            gc.enable()


def load(history: History, budget: Budget) -> CartHistory:
    """Returns the indexed view of `history` (ops, a JSONL path, an index already built,
    or a `SharedHistory`, indexed once for all the checkers that read it).

    Raises HistoryError (from the codec, naming the line) or HistoryShapeError.
    """
    if isinstance(history, CartHistory):
        return history
    if isinstance(history, SharedHistory):
        return history.cart_index(budget)
    if isinstance(history, str | Path):
        history = read_jsonl(history)
    return index_history(history, budget)


def index_history(history: Iterable[Op], budget: Budget) -> CartHistory:
    """Pairs invokes with completions and sorts the ops into a `CartHistory`.

    Reads and writes keep their invoke order. The loop is flat on purpose: it
    runs once per op of histories of millions of ops (a call per op cost more
    than the rest of a check), so the common cases (an invoke, an ok read, an
    acknowledged well-formed write) are handled inline and the rest by helpers.
    """
    budget.enter("indexing the history")
    out = CartHistory()
    open_: dict[int | str, tuple[Op, int]] = {}
    reads: list[Read | None] = []
    writes: list[Write | None] = []
    replica_reads, record = out.replica_reads, out.timeline.record
    n = 0
    op: Op | None = None
    invoke, nemesis, ok, written = OpType.INVOKE, NEMESIS, OpType.OK, Outcome.OK
    pop, setdefault = open_.pop, open_.setdefault
    ops = iter(history)
    while chunk := list(islice(ops, _CHUNK)):  # the clock once per chunk, not per op
        budget.check()
        n += len(chunk)
        for op in chunk:
            proc = op.process
            if type(proc) is not int and proc == nemesis:  # int == str is slow; most are ints
                record(op)
            elif op.type is invoke:
                f = op.f
                if f == READ:
                    pair = (op, len(reads))
                    reads.append(None)
                elif f in WRITES:
                    pair = (op, len(writes))
                    writes.append(None)
                else:
                    pair = (op, -1)
                # one dict lookup, not two; the op, not the pair, is compared by identity
                # (a mypyc build boxes the pair anew when it stores it)
                if setdefault(proc, pair)[0] is not op:
                    raise HistoryShapeError(
                        op.index, f"process {proc!r} invoked again before its op completed"
                    )
            elif op.f == REPLICA_READ:
                replica_reads.append(_replica_read(op))
            elif type(proc) is not int and proc == CHECKER:
                continue  # other observations of the harness (node status) are not client ops
            else:
                opened = pop(proc, None)
                if opened is None:
                    raise HistoryShapeError(
                        op.index, f"{op.type.value} of process {proc!r} has no open invoke"
                    )
                inv, slot = opened
                f = inv.f
                if op.f != f or op.key != inv.key:
                    _mismatch(inv, op)
                if slot < 0:
                    continue
                if f == READ:
                    if op.type is ok:
                        sibs = op.siblings
                        if type(sibs) is not list:
                            sibs = _siblings(op)
                        elif len(sibs) == 1:  # most reads: `_plain_siblings`, inlined
                            s = sibs[0]
                            if type(s) is not dict:
                                sibs = _siblings(op)
                            else:
                                put, items = s.get("put"), s.get("items")
                                if type(put) is not str or type(items) is not list:
                                    sibs = _siblings(op)
                        elif not _plain_siblings(sibs):
                            sibs = _siblings(op)
                        # `extra` is mostly empty (falsy): no lookup then
                        final = bool(
                            (ex := op.extra)
                            and ex.get("final")
                            or (ix := inv.extra)
                            and ix.get("final")
                        )
                        reads[slot] = Read(inv.key if inv.key is not None else _key(inv),
                                           inv.index, op.index, inv.time, op.time, proc,
                                           op.node, sibs, final)  # fmt: skip
                    continue
                value, ex = inv.value, op.extra
                put, parents = ex.get("put"), ex.get("parents")
                if (  # an acknowledged, well-formed write (nearly all): inlined `_write`
                    op.type is ok
                    and type(put) is str
                    and put
                    and type(parents) is list
                    and (type(value) is int or type(value) is str)
                    and inv.key is not None
                    and (
                        type(parents[0]) is str if len(parents) == 1 else _put_ids(parents)
                    )  # most writes have one parent
                ):
                    writes[slot] = Write(f, inv.key, value, inv.index, op.index, inv.time,
                                         op.time, proc, op.node, written, put, parents,
                                         op.error)  # fmt: skip
                else:
                    writes[slot] = _write(inv, op, 0)
    out.n_ops = n
    out.end_time = op.time if op is not None else 0
    for inv, slot in open_.values():
        if slot >= 0 and inv.f != READ:
            writes[slot] = _write(inv, None, out.end_time)
    out.reads = [r for r in reads if r is not None]
    out.writes = [w for w in writes if w is not None]
    out.timeline.finish()
    return out


_CHUNK = 4096


def _put_ids(parents: list[Any]) -> bool:
    """True if every parent is a string (a put id)."""
    for p in parents:
        if type(p) is not str:
            return False
    return True


def _mismatch(inv: Op, comp: Op) -> None:
    raise HistoryShapeError(
        comp.index,
        f"completion ({comp.f}, {comp.key!r}) does not match its invoke "
        f"at op {inv.index} ({inv.f}, {inv.key!r})",
    )


def _key(op: Op) -> str:
    if op.key is None:
        raise HistoryShapeError(op.index, f"{op.f} has no 'key'")
    return op.key


def _plain_siblings(sibs: list[Any]) -> bool:
    """True if every sibling is a dict with a string 'put' and a list 'items'."""
    for s in sibs:
        if type(s) is not dict or type(s.get("put")) is not str or type(s.get("items")) is not list:
            return False
    return True


def _siblings(op: Op) -> list[dict[str, Any]]:
    if op.siblings is None:
        raise HistoryShapeError(op.index, f"{op.type.value} {op.f} has no 'siblings'")
    for s in op.siblings:
        if type(s) is not dict or type(s.get("put")) is not str or type(s.get("items")) is not list:
            break
    else:
        return op.siblings
    for i, s in enumerate(op.siblings):
        if not isinstance(s, dict) or not isinstance(s.get("put"), str):
            raise HistoryShapeError(
                op.index, f"sibling {i} must be an object with a string 'put', got {s!r}"
            )
        if not isinstance(s.get("items"), list):
            raise HistoryShapeError(op.index, f"sibling {i} must have a list 'items', got {s!r}")
    return op.siblings


def _outcome(comp: Op | None) -> Outcome:
    if comp is None:
        return Outcome.INDETERMINATE
    t = comp.type
    if t is _OK:
        return Outcome.OK
    if t is _INFO:
        return Outcome.INDETERMINATE
    if (comp.error or "").startswith("get:"):
        return Outcome.NOT_WRITTEN
    return Outcome.INDETERMINATE


def _write(inv: Op, comp: Op | None, end_time: int) -> Write:
    outcome = _outcome(comp)
    ix = inv.extra
    cx = comp.extra if comp is not None else ix
    put = cx.get("put") or ix.get("put")
    parents = cx.get("parents")
    if parents is None:
        parents = ix.get("parents")
    value = inv.value
    where = comp.index if comp is not None else inv.index
    if type(put) is not str or type(parents) is not list or type(value) not in _ITEM_TYPES:
        _check_write(inv, where, outcome, put, parents)
    else:  # the common, well-formed case, checked inline
        for p in parents:
            if type(p) is not str:
                _check_write(inv, where, outcome, put, parents)
    if outcome is Outcome.NOT_WRITTEN:
        put = None
    key = inv.key if inv.key is not None else _key(inv)
    if comp is None:
        return Write(inv.f, key, value, inv.index, None, inv.time, end_time, inv.process,
                     None, outcome, put, parents or [], None)  # fmt: skip
    return Write(inv.f, key, value, inv.index, comp.index, inv.time, comp.time, inv.process,
                 comp.node, outcome, put, parents or [], comp.error)  # fmt: skip


_ITEM_TYPES = (int, str)


def _check_write(inv: Op, where: int, outcome: Outcome, put: Any, parents: Any) -> None:
    """Raises HistoryShapeError unless the write's item, put id and parents are well formed."""
    if put is not None and type(put) is not str:
        raise HistoryShapeError(where, f"'put' must be a string, got {put!r}")
    if parents is not None and (
        type(parents) is not list or not all(type(p) is str for p in parents)
    ):
        raise HistoryShapeError(where, f"'parents' must be a list of put ids, got {parents!r}")
    value = inv.value
    if type(value) is not int and type(value) is not str:
        raise HistoryShapeError(inv.index, f"{inv.f} value must be an item id, got {value!r}")
    if outcome is Outcome.OK and (put is None or parents is None):
        raise HistoryShapeError(where, f"acknowledged {inv.f} lacks 'put' or 'parents'")


def _replica_read(op: Op) -> ReplicaRead:
    rnd = op.extra.get("round", 0)
    if not isinstance(rnd, int):
        raise HistoryShapeError(op.index, f"'round' must be an integer, got {rnd!r}")
    if op.siblings is None:
        raise HistoryShapeError(op.index, "replica-read has no 'siblings'")
    return ReplicaRead(_key(op), op.index, op.time, op.node, rnd, op.siblings, op.context)
