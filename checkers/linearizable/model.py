"""The vocabulary of the linearizability checker, in Porcupine's shape.

A `Model` is a sequential specification: `init()` gives the first state and
`step(state, input, output)` says whether an operation with that input may
return that output in that state, and what state follows. States must be
hashable (tuples, strings, numbers, frozensets) and `step` must be pure: the
search calls it many times on the same arguments and caches states.

A history is either a list of `Operation`s (closed intervals `[call, return_]`,
so two operations that touch at one instant are concurrent) or a list of
`Event`s (calls and returns in real-time order, matched by `id`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any


class _Unknown:
    """The output of an operation whose outcome nobody saw (a crash, a timeout).

    One instance, `UNKNOWN`, compared by identity: copying or unpickling it gives
    it back (`__reduce__` names it).
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __reduce__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()
"""Output marker: the operation may have taken effect (at any point after its call) or not.

Contract: a model's `step` accepts an operation whose output is UNKNOWN in every
state (if it did not take effect, it changes nothing). The search relies on it:
an UNKNOWN operation still open when every other one has returned is optional,
and is never linearized where it would leave the state as it is.
"""


@dataclass(frozen=True, slots=True)
class Operation:
    """One operation: `input` was called at `call` and returned `output` at `return_`.

    The interval is closed: operations whose intervals share an instant overlap.
    """

    client_id: int
    input: Any
    call: int
    output: Any
    return_: int


class EventKind(enum.Enum):
    CALL = "call"
    RETURN = "return"


@dataclass(frozen=True, slots=True)
class Event:
    """A call or a return; the call and return of one operation share `id`."""

    client_id: int
    kind: EventKind
    value: Any
    id: int


class CheckResult(enum.Enum):
    OK = "ok"
    ILLEGAL = "illegal"
    UNKNOWN = "unknown"


Partition = Callable[[list[Operation]], list[list[Operation]]]


def _no_partition(history: list[Operation]) -> list[list[Operation]]:
    return [list(history)]


def _equal(a: Any, b: Any) -> bool:
    return bool(a == b)


def _describe(value: Any) -> str:
    return repr(value)


def _describe_operation(input: Any, output: Any) -> str:
    return f"{input!r} -> {output!r}"


@dataclass(frozen=True, kw_only=True, slots=True)
class Model:
    """A sequential specification; only `init` and `step` are required.

    - `partition(history) -> list of sub-histories` that may be checked
      independently (P-compositionality); default: one partition.
    - `init() -> state`; `step(state, input, output) -> (ok, new_state)`, pure.
    - `equal(a, b)` and `hash(state)` must agree (equal states hash equal);
      defaults: `==` and Python's `hash`. `hash` is used only with a custom
      `equal` (with `==`, states are compared as they are).
    - `describe_operation(input, output)` and `describe_state(state)` make text
      for reports and the visualization.
    - `read_only(input, output) -> bool`, an optional hint beyond Porcupine's
      fields: True promises that the operation leaves the state unchanged in
      every state where it is legal (a read, a cas that failed). The search
      then linearizes it greedily and never branches on it. A wrong promise
      gives wrong verdicts; leave it None when unsure.
    - `observes(input, output) -> state`, an optional hint beyond Porcupine's
      fields, asked of every operation but the optional ones: the one state in
      which the model accepts the operation (a read that returned 3: the state
      3; an acquire: the free lock), or `UNKNOWN` when there is none to name
      (it is legal in several states, like a write). It promises
      `step(s, input, output)[0] == (s == state)` for every state `s`. The
      search then refuses the operation by comparing state ids, without a
      step: most of a read-heavy search's steps are reads it refuses. With
      `read_only` also True, it accepts the operation in that state without
      a step.
    - `footprint(input) -> iterable of hashables`, an optional hint beyond
      Porcupine's fields: the parts of the state the operation may read or
      write. It promises that operations with disjoint footprints commute and
      never change whether the other is legal or what it returns, in every
      state. The checker then splits each partition into the connected
      components of shared footprints and checks them independently (Horn &
      Kroening's P-compositionality, derived from the operations rather than
      from a partition function, so an operation on several keys joins them).
      Without it (and without `partition`), a split is inferred from `init`
      and `step` where the states allow (`inferred`).
    - `grows(input, output) -> bool` and `grows_into(state, input, output)
      -> bool`, optional hints beyond Porcupine's fields, used together: the
      operations `grows` says True of (an append, a read; not a put) only
      move the state forward, and False from `grows_into` promises that no
      sequence of them leads from `state` to one where the read-only
      operation `(input, output)` is legal (a get of "ab" after "b"). The
      search then drops a configuration whose state cannot grow into what a
      pending read saw, when no operation that does not grow can come before
      that read. With `resets_to(input, output) -> state` for an operation
      that does not grow (or `UNKNOWN`), the search walks past it: the promise
      is that `grows_into` allows from that state every read it allows from a
      state the operation may leave (a put of "x" in kv: "x"; in one map of
      keys: "x" at that key, the others empty, as an empty string grows into
      any string).

    Construct with `Model(init=..., step=...)`; missing callables are filled by
    `fill_default`.
    """

    init: Callable[[], Any]
    step: Callable[[Any, Any, Any], tuple[bool, Any]]
    partition: Partition | None = None
    equal: Callable[[Any, Any], bool] | None = None
    hash: Callable[[Any], int] | None = None
    describe_operation: Callable[[Any, Any], str] | None = None
    describe_state: Callable[[Any], str] | None = None
    read_only: Callable[[Any, Any], bool] | None = None
    footprint: Callable[[Any], Iterable[Hashable]] | None = None
    observes: Callable[[Any, Any], Any] | None = None
    grows: Callable[[Any, Any], bool] | None = None
    grows_into: Callable[[Any, Any, Any], bool] | None = None
    resets_to: Callable[[Any, Any], Any] | None = None

    def __post_init__(self) -> None:
        fill_default(self)

    @property
    def custom_equality(self) -> bool:
        """True when states are compared with a user-supplied `equal`."""
        return self.equal is not _equal


def fill_default(model: Model) -> Model:
    """Fills every unset optional callable of `model` in place; returns it.

    The only place defaults are decided (Porcupine's fillDefault).
    """
    defaults: dict[str, Any] = {
        "partition": _no_partition,
        "equal": _equal,
        "hash": hash,
        "describe_operation": _describe_operation,
        "describe_state": _describe,
    }
    for name, default in defaults.items():
        if getattr(model, name) is None:
            object.__setattr__(model, name, default)
    return model


@dataclass(frozen=True, kw_only=True, slots=True)
class NondeterministicModel:
    """A specification whose step may lead to several states.

    `step(state, input, output) -> list of possible next states` (empty when the
    operation is illegal). `init() -> list of initial states`. `to_model()`
    turns it into a deterministic `Model` over sets of states (the powerset
    construction), so the same search checks it.
    """

    init: Callable[[], Sequence[Hashable]]
    step: Callable[[Any, Any, Any], Sequence[Hashable]]
    partition: Partition | None = None
    describe_operation: Callable[[Any, Any], str] | None = None
    describe_state: Callable[[Any], str] | None = None

    def to_model(self) -> Model:
        """Returns the equivalent deterministic Model; its states are frozensets."""
        step = self.step
        describe = self.describe_state or _describe

        def det_step(states: frozenset[Any], inp: Any, out: Any) -> tuple[bool, frozenset[Any]]:
            nxt: set[Any] = set()
            for s in states:
                nxt.update(step(s, inp, out))
            return bool(nxt), frozenset(nxt)

        def det_describe(states: frozenset[Any]) -> str:
            parts = sorted(describe(s) for s in states)
            return parts[0] if len(parts) == 1 else "{" + ", ".join(parts) + "}"

        return Model(
            init=lambda: frozenset(self.init()),
            step=det_step,
            partition=self.partition,
            describe_operation=self.describe_operation,
            describe_state=det_describe,
        )


@dataclass(frozen=True, slots=True)
class Annotation:
    """A labelled interval drawn on the visualization (e.g. a nemesis fault).

    `client_id` None draws it across every client row.
    """

    start: int
    end: int
    label: str
    client_id: int | None = None
    details: str = ""
    color: str = "#f4c27a"


@dataclass(slots=True)
class PartitionInfo:
    """The verdict on one partition and the evidence for it.

    `longest`: the longest linearizable prefix found (operation indices into
    `history`). `illegal`: an operation that could not be linearized after that
    prefix (its return came first), or None. `partials`: with verbose checking,
    distinct partial linearizations, the longest one containing each operation.
    """

    history: list[Operation]
    result: CheckResult
    longest: list[int] = field(default_factory=list)
    illegal: int | None = None
    partials: list[list[int]] = field(default_factory=list)


@dataclass(slots=True)
class LinearizationInfo:
    """What a check found, per partition; `visualize` draws it."""

    result: CheckResult
    partitions: list[PartitionInfo]
    annotations: list[Annotation] = field(default_factory=list)
    elapsed_s: float = 0.0
    """Wall time of the whole check, measured after its caches were freed."""
    unknown_reason: str = ""
    """Why the result is UNKNOWN: "timeout" or "memory" (the cache budget)."""
    cache_entries: int = 0
    """Configurations cached over all partitions (Lowe's cache)."""
    cache_bytes: int = 0
    """The estimate of their memory that the `max_cache_bytes` cap is checked against."""
    overrun_s: float = 0.0
    """How long after its deadline the check returned (0 if it did not time out)."""

    def add_annotations(self, annotations: Sequence[Annotation]) -> None:
        """Adds intervals (e.g. nemesis faults) to draw over the history."""
        self.annotations.extend(annotations)

    def first_illegal(self) -> tuple[PartitionInfo, Operation] | None:
        """Returns the illegal partition and its blocking operation, if any."""
        for part in self.partitions:
            if part.result is CheckResult.ILLEGAL and part.illegal is not None:
                return part, part.history[part.illegal]
        return None
