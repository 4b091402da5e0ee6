"""Ready-made models for the histories Sibyl, Porcupine and Knossos produce.

Every parser in this package builds inputs as a triple `(f, key, arg)`:

| model | f | arg | output |
|---|---|---|---|
| cas-register | read / write / cas | None / value / (from, to) | read: the value; cas: True/False |
| kv | get / put / append | None / string / string | the string read |
| mutex | acquire / release | None | None |
| multi-register | txn | tuple of (f, key, value) micro-ops | the micro-ops with read values |

An output of `UNKNOWN` means nobody saw the outcome: the operation may have
taken effect at any point after its call, or never (a crash, a timeout). A
read value of `UNKNOWN` in a micro-op or a register read matches any state.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Final

from checkers.linearizable.edn import Symbol
from checkers.linearizable.model import UNKNOWN, Model, Operation

_UNKNOWN: Final = UNKNOWN
"""`UNKNOWN` as a constant of this module: the mypyc build reads an imported name from
the module's dict at every use, and the model steps below test it at every step."""


def partition_by_key(history: list[Operation]) -> list[list[Operation]]:
    """Splits a history of `(f, key, arg)` inputs into one sub-history per key."""
    keys = [op.input[1] for op in history]
    if not keys or keys.count(keys[0]) == len(keys):  # one key (a register): no grouping
        return [list(history)]
    groups: dict[Any, list[Operation]] = defaultdict(list)
    for op in history:
        groups[op.input[1]].append(op)
    return list(groups.values())


def _root(parent: list[int], x: int) -> int:
    """The root of `x` in the union-find forest `parent`, halving the path on the way."""
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def split_by_footprint(
    history: list[Operation], footprint: Callable[[Any], Iterable[Hashable]]
) -> list[list[Operation]]:
    """Splits a history into the connected components of shared footprints.

    Two operations are in one component when a chain of operations, each
    sharing a footprint element with the next, joins them. Components keep
    the history's order, and come in the order of their first operation.
    """
    ids: dict[Hashable, int] = {}  # each element hashed once per use: EDN keywords hash slowly
    parent: list[int] = []
    firsts: list[int] = []
    for op in history:
        first = -1
        for r in footprint(op.input):
            x = ids.get(r)
            if x is None:
                x = ids[r] = len(parent)
                parent.append(x)
            x = _root(parent, x)
            if first < 0:
                first = x
            elif x != first:
                parent[x] = first  # `first` stays a root
        firsts.append(first)
    groups: dict[int, list[Operation]] = {}
    alone: list[list[Operation]] = []
    for op, first in zip(history, firsts):
        if first < 0:  # touches nothing: commutes with everything
            alone.append([op])
        else:
            groups.setdefault(_root(parent, first), []).append(op)
    return list(groups.values()) + alone


def _key_footprint(inp: Any) -> tuple[Any]:
    return (inp[1],)


def _describe_input(inp: Any) -> str:
    f, key, arg = inp
    where = f"[{key}]" if key is not None else ""
    if arg is None:
        return f"{f}{where}()"
    if f == "cas":
        return f"{f}{where}({arg[0]!r} -> {arg[1]!r})"
    return f"{f}{where}({arg!r})"


def describe_triple(inp: Any, out: Any) -> str:
    """Text for an `(f, key, arg)` operation and its output, e.g. `read[x]() -> 3`."""
    if out is None and inp[0] != "read":
        return _describe_input(inp)
    return f"{_describe_input(inp)} -> {'?' if out is UNKNOWN else repr(out)}"


def _cas_register_step(state: Any, inp: Any, out: Any) -> tuple[bool, Any]:
    f = inp[0]
    if f == "read":
        return (out is _UNKNOWN or out == state), state
    if f == "write":
        return True, inp[2]
    if f == "cas":
        frm, to = inp[2]
        if frm == state:
            return out is not False, to
        return out is not True, state
    return False, state


def cas_register(init: Any = None) -> Model:
    """A register with read, write and compare-and-set, partitioned by key.

    This is Porcupine's etcd model: a cas returning True/False is legal only if
    the compare did/did not match; a read of None means "no value yet" when
    `init` is None. Knossos's `(cas-register 0)` is `cas_register(0)` with nil
    reads parsed as UNKNOWN.
    """
    return Model(
        init=lambda: init,
        step=_cas_register_step,
        partition=partition_by_key,
        describe_operation=describe_triple,
        describe_state=repr,
        read_only=lambda inp, out: inp[0] == "read" or (inp[0] == "cas" and out is False),
        observes=_observed_read,
    )


def _observed_read(inp: Any, out: Any) -> Any:
    """The one state an op is legal in: a read's value, a cas's `from` if it applied.

    A write, a failed cas (legal in every other state) and an op whose outcome
    nobody saw name none."""
    f = inp[0]
    if out is _UNKNOWN:
        return _UNKNOWN
    if f == "read" or f == "get":
        return out
    return inp[2][0] if f == "cas" and out is True else _UNKNOWN


def _kv_step(state: str, inp: Any, out: Any) -> tuple[bool, str]:
    f = inp[0]
    if f == "get":
        return (out is _UNKNOWN or out == state), state
    if f == "put":
        return True, inp[2]
    if f == "append":
        return True, state + inp[2]
    return False, state


def _is_get(inp: Any, out: Any) -> bool:
    return bool(inp[0] == "get")


def _kv_grows(inp: Any, out: Any) -> bool:
    """Gets and appends only extend the string (a put replaces it)."""
    return bool(inp[0] != "put")


def _kv_resets_to(inp: Any, out: Any) -> Any:
    """A put leaves its string, whatever the string before."""
    return inp[2] if inp[0] == "put" else _UNKNOWN


def _kv_grows_into(state: str, inp: Any, out: Any) -> bool:
    """Appends lead from `state` to the string a get saw only if `state` begins it."""
    return type(out) is not str or out.startswith(state)


def kv() -> Model:
    """Porcupine's key-value model: get / put / append on strings, partitioned by key.

    Its `grows` / `grows_into` / `resets_to` hints (appends only extend a string,
    a put replaces it) let the search drop an order of appends that no pending
    get's value begins with."""
    return Model(
        init=lambda: "",
        step=_kv_step,
        partition=partition_by_key,
        describe_operation=describe_triple,
        describe_state=repr,
        read_only=_is_get,
        observes=_observed_read,
        grows=_kv_grows,
        grows_into=_kv_grows_into,
        resets_to=_kv_resets_to,
    )


def kv_nopartition(*, footprint: bool = True) -> Model:
    """The kv model over one map of all keys, not partitioned (Porcupine's slow variant).

    A state is a tuple of values, one slot per key in the order keys first
    appear (the model remembers the slots), without trailing empty strings;
    absent keys read as "". Its `footprint` hint (an operation touches its
    key's slot only) lets the checker split the history where operations
    commute; `kv_nopartition(footprint=False)` leaves it out (Porcupine's model).
    Its `grows` / `grows_into` / `resets_to` hints are the kv model's, slot by slot.
    """
    slots: dict[Any, int] = {}
    keys: list[Any] = []

    def grows_into(state: tuple[str, ...], inp: Any, out: Any) -> bool:
        k = slots.get(inp[1])
        return _kv_grows_into(state[k] if k is not None and k < len(state) else "", inp, out)

    def resets_to(inp: Any, out: Any) -> Any:
        # the put's string at its key, the others empty: they grow into any string
        return step((), inp, out)[1] if inp[0] == "put" else _UNKNOWN

    def step(state: tuple[str, ...], inp: Any, out: Any) -> tuple[bool, tuple[str, ...]]:
        f, key = inp[0], inp[1]
        k = slots.get(key)
        if k is None:
            k = slots[key] = len(keys)
            keys.append(key)
        current = state[k] if k < len(state) else ""
        if f == "get":
            return (out is _UNKNOWN or out == current), state
        if f == "put":
            new = inp[2]
        elif f == "append":
            new = current + inp[2]
        else:
            return False, state
        if k >= len(state):
            state += ("",) * (k + 1 - len(state))
        state = state[:k] + (new,) + state[k + 1 :]
        while state and not state[-1]:
            state = state[:-1]
        return True, state

    return Model(
        init=tuple,
        step=step,
        describe_operation=describe_triple,
        describe_state=lambda s: repr({keys[i]: v for i, v in enumerate(s) if v}),
        read_only=_is_get,
        footprint=_key_footprint if footprint else None,
        grows=_kv_grows,
        grows_into=grows_into,
        resets_to=resets_to,
    )


def _mutex_step(held: bool, inp: Any, out: Any) -> tuple[bool, bool]:
    f = inp[0]
    if out is _UNKNOWN:  # if it did not take effect, linearizing it here changes nothing
        return True, f == "acquire" if f in ("acquire", "release") else held
    if f == "acquire":
        return not held, True
    if f == "release":
        return held, False
    return False, held


def _mutex_requires(inp: Any, out: Any) -> Any:
    """The one state an acquire (free) or a release (held) is legal in."""
    f = inp[0]
    if out is _UNKNOWN or (f != "acquire" and f != "release"):
        return _UNKNOWN
    return f == "release"


def mutex(init: Any = None) -> Model:
    """A lock: acquire is legal when free, release when held. Unknown outcomes never fail.

    It starts free, or held when `init` is the EDN symbol `locked`."""
    held = _MUTEX_STATES.get(str(init), False) if init is not None else False
    return Model(
        init=lambda: held,
        step=_mutex_step,
        describe_operation=describe_triple,
        describe_state=lambda held: "held" if held else "free",
        observes=_mutex_requires,
    )


_MAX_SLOT_IDS: Final = 4096
"""Key objects a multi-register model remembers by id (other objects are looked up by value)."""


def _trimmed(values: list[Any]) -> tuple[Any, ...]:
    """`values` without its trailing Nones, as a tuple (a multi-register state)."""
    while values and values[-1] is None:
        values.pop()
    return tuple(values)


def multi_register(init: dict[Any, Any] | None = None) -> Model:
    """Knossos's multi-register: `txn` of [read k v] / [write k v] micro-ops, atomically.

    A read of UNKNOWN (nil) matches anything; a key never written reads None.
    A state is a tuple of values, one slot per key in the order keys first
    appear (the model remembers the slots), without trailing Nones. Its
    footprint is the keys a transaction names: transactions over disjoint keys
    are checked apart.
    """
    slots: dict[Any, int] = {}
    keys: list[Any] = []
    # Slots by the key object's id (the object is held, so its id stays its own): EDN
    # keywords hash in Python, and parsed keywords are shared objects (`edn.keyword`).
    by_id: dict[int, tuple[Any, int]] = {}

    def slot(key: Any) -> int:
        hit = by_id.get(id(key))
        if hit is not None:
            return hit[1]
        i = slots.get(key)
        if i is None:
            i = slots[key] = len(keys)
            keys.append(key)
        if len(by_id) < _MAX_SLOT_IDS:
            by_id[id(key)] = (key, i)
        return i

    def step(state: tuple[Any, ...], inp: Any, out: Any) -> tuple[bool, tuple[Any, ...]]:
        values: list[Any] | None = None  # copied at the first write: a read-only txn keeps `state`
        for f, k, v in inp[2] if out is _UNKNOWN else out:
            hit = by_id.get(id(k))
            i = slot(k) if hit is None else hit[1]
            if f == "write":
                if values is None:
                    values = list(state)
                values += [None] * (i + 1 - len(values))
                values[i] = v
            elif f != "read":
                return False, state
            elif out is not _UNKNOWN and v is not _UNKNOWN:
                now = state if values is None else values
                if (now[i] if i < len(now) else None) != v:
                    return False, state
        if values is None:
            return True, state
        return True, _trimmed(values)

    def footprint(inp: Any) -> list[int]:  # the slots: ints hash fast
        out = []
        for mop in inp[2]:
            hit = by_id.get(id(mop[1]))
            out.append(slot(mop[1]) if hit is None else hit[1])
        return out

    first = init or {}
    start = _trimmed([first[k] for k in sorted(first, key=repr) if slot(k) >= 0])
    return Model(
        init=lambda: start,
        step=step,
        describe_operation=lambda i, o: f"txn {list(o if o is not UNKNOWN else i[2])}",
        describe_state=lambda s: repr({keys[i]: v for i, v in enumerate(s)}),
        read_only=lambda inp, out: all(mop[0] == "read" for mop in inp[2]),
        footprint=footprint,
    )


_REGISTER = frozenset({"read", "write", "cas"})
_KV = frozenset({"get", "put", "append"})
_MUTEX = frozenset({"acquire", "release"})
_TXN = frozenset({"txn"})

MODELS: dict[str, tuple[Callable[[Any], Model], frozenset[str]]] = {
    "cas-register": (cas_register, _REGISTER),
    "register": (cas_register, _REGISTER),
    "etcd-register": (cas_register, _REGISTER),
    "kv": (lambda init: kv(), _KV),
    "kv-partitioned": (lambda init: kv(), _KV),
    "kv-nopartition": (lambda init: kv_nopartition(), _KV),
    "mutex": (mutex, _MUTEX),
    "multi-register": (lambda init: multi_register(init if isinstance(init, dict) else None), _TXN),
}
"""Models by name (the corpora manifests' names, plus short aliases): a constructor
taking the initial state (None: the model's default), and the `f`s it understands."""


def make_model(name: str, init: Any = None) -> Model:
    """Returns the named model; raises ValueError naming the known models."""
    if name not in MODELS:
        known = ", ".join(sorted(MODELS))
        raise ValueError(f"unknown model {name!r}; known models: {known}")
    _check_init(name, init)
    return MODELS[name][0](init)


_NO_INIT = frozenset({"kv", "kv-partitioned", "kv-nopartition"})
_MUTEX_STATES = {"unlocked": False, "locked": True}


def _check_init(name: str, init: Any) -> None:
    """Raises ValueError when `init` is not a state the named model can start from."""
    if init is None:
        return
    if name in _NO_INIT:
        raise ValueError(f"model {name!r} takes no initial state (it starts empty); drop --init")
    if name == "mutex":
        if str(init) not in _MUTEX_STATES:
            raise ValueError(f"model 'mutex' starts unlocked or locked, not {init!r}")
        return
    if isinstance(init, Symbol):
        # A bare word reads as an EDN symbol: almost always a missing pair of quotes.
        raise ValueError(f"initial state {init} is a bare word; quote a string: '\"{init}\"'")
    if name == "multi-register":
        if not isinstance(init, dict):
            raise ValueError(
                f"model 'multi-register' starts from a map of keys to values, e.g. "
                f"'{{:x 0 :y 0}}', not {init!r}"
            )
        return
    try:
        hash(init)
    except TypeError:
        raise ValueError(
            f"model {name!r} starts from one value (e.g. 0 or '\"a\"'), not {init!r}"
        ) from None
    if isinstance(init, tuple):
        raise ValueError(f"model {name!r} starts from one value (e.g. 0), not a list {init!r}")


def check_vocabulary(name: str, history: list[Operation]) -> None:
    """Raises ValueError if the history has operations the named model does not know."""
    known = MODELS[name][1] if name in MODELS else frozenset()
    foreign = sorted({op.input[0] for op in history} - known)
    if foreign:
        fits = sorted(n for n, (_, fs) in MODELS.items() if {op.input[0] for op in history} <= fs)
        hint = f"; models that fit: {', '.join(fits)}" if fits else ""
        raise ValueError(f"model {name!r} understands {', '.join(sorted(known))} operations, "
                         f"but the history has {', '.join(map(str, foreign))}{hint}")  # fmt: skip
