"""The search: Wing & Gong's algorithm with Lowe's cache, one partition at a time.

Calls and returns of a partition are sorted by time (a call before a return at
the same instant: intervals are closed) and threaded on a doubly linked list
held in flat integer arrays. The search walks the list from the head; at a call
it tries to linearize that operation now (`model.step` must accept it and the
configuration must be new), lifting the call and its return out of the list; at
a return whose operation is not yet linearized it backtracks. The history is
linearizable iff the list empties.

Invariant of the cache (Lowe): a configuration is the set of linearized
operations plus the model state. Two paths that reach the same configuration
have the same future, so each is explored once. The set is held windowed
(`_cache_key`): the count of ops, in call order, below the lowest one still
open (all linearized), the bits of the ops above it, and those of the optional
ops apart; the search moves mostly in call order, so these ints stay small
(machine words in the build: no allocation a step).

Reductions that keep the verdict and prune the search (each is checked against
brute force in the tests):
- twins: of two operations with equal input and output, the one called first
  goes first unless the other's interval lies inside its own (counting a
  return by the calls before it, so returns with no call between them are
  equal). Swapping the two in any linearization keeps real time and every
  state, so some linearization has them in that order.
- read-only operations (the model's `read_only` hint): one that is legal now
  is linearized at once, and the search never branches on it, because moving
  it earlier in any linearization keeps every state.
- the model's `observes` hint: an operation legal in one state only (a read
  that observes it, an acquire of a free lock, a cas that applied) is refused
  in any other state by comparing two state ids, without a step. One also
  read-only (a read) is accepted in that state without a step: it keeps it.
- growth (the model's `grows` / `grows_into` / `resets_to` hints): a new
  state is dropped when a pending read returns before any op that may not
  grow is called (or only ones that reset to known states) and neither the
  state nor those reset states can grow into what the read saw: only such
  ops can come before that read (`growth.py`).
- optional operations (output `UNKNOWN`, returning after every call: crashed
  ones): their returns go last, the search succeeds once only they are left
  (they can all be appended, the model accepts them anywhere), and it never
  linearizes one where it would not change the state (appending it instead
  keeps every state). Their calls wait on a list of their own: at a
  configuration they are tried only once every other candidate failed. A
  configuration with some of them linearized is dropped when the one without
  them, in the same state, is cached: every way on from it is a way on from
  that one, leaving them out (on Knossos's rethink-fail, 352 configurations
  become 144).

`replay_in_call_order` (replay.py) decides many partitions before any search: a
greedy replay in call order (with one-step swaps and a few deferred ops) that, when
it places every op, is a linearization.

A `Search` runs in slices of steps, so the scheduler (scheduler.py) can interleave
partitions and stop at the first illegal one while a hard partition is still running.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from sys import getsizeof
from typing import Any, Final, cast

from checkers.linearizable.growth import dead, thread_growth
from checkers.linearizable.model import UNKNOWN, CheckResult, Model, Operation, PartitionInfo

_UNKNOWN: Final = UNKNOWN
"""`UNKNOWN` as a constant of this module (the mypyc build reads an imported name from the
module's dict at every use); so are the settings below `Final`, for the same reason."""


DEADLINE_EVERY_STEPS: Final = 64
"""How often a slice looks at the clock, so that even a slow model meets its deadline."""


_ENTRY_BYTES: Final = 80
"""Estimated bytes per cached configuration: a set slot and a small int (see `run`)."""

_STATE_BYTES: Final = 100
"""Estimated bytes per distinct state besides the state object itself: its dict slot and id."""


def _state_bytes(state: Any) -> int:
    """Estimated memory of a new state: itself, and its largest part if it is a container.

    A state that follows another shares most of its parts (one slot of a tuple
    changes), so counting every part would overcount; counting none undercounts.
    """
    if type(state) is _Keyed:
        state = state.state
    size = getsizeof(state)
    if type(state) is tuple or type(state) is frozenset:
        size += max(map(getsizeof, state), default=0)
    return size


class _Keyed:
    """A state wrapped so that a set compares it with the model's equal/hash."""

    __slots__ = ("state", "_h", "_eq")

    def __init__(self, state: Any, h: int, eq: Callable[[Any, Any], bool]) -> None:
        self.state = state
        self._h = h
        self._eq = eq

    def __hash__(self) -> int:
        return self._h

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Keyed) and self._eq(self.state, other.state)


def _keyed_step(model: Model) -> tuple[Callable[..., tuple[bool, Any]], Any]:
    """Returns the step the search calls and the initial search state.

    With default equality these are the model's own; with a custom `equal` /
    `hash`, states travel wrapped in `_Keyed` so that the cache uses them.
    """
    step = model.step
    if not model.custom_equality:
        return step, model.init()
    eq, h = model.equal, model.hash
    assert eq is not None and h is not None

    def keyed(state: _Keyed, inp: Any, out: Any) -> tuple[bool, _Keyed]:
        ok, new = step(state.state, inp, out)
        return ok, _Keyed(new, h(new), eq)

    init = model.init()
    return keyed, _Keyed(init, h(init), eq)


def _cache_key(base: int, lin: int, olin: int, sid: int, shift: int, width: int) -> int:
    """The cache's key of a configuration: its linearized set and its state id.

    The set is windowed: every non-optional op of rank (in call order) below
    `base` is linearized, `lin` holds the bits of those from `base` up (its
    lowest bit, op `base`, is open), `olin` those of the optional ops. One int:
    `shift` is the optional ops' count, `width` leaves room for `base` and a
    32-bit state id. Unique for each configuration; below 2**62 (unboxed in the
    build) while the window and the optional bits are narrow.
    """
    return ((lin << shift | olin) << width) | base << 32 | sid


Meta = tuple[int, Any, Any, int, bool | None]
"""Per call entry: (the call entry of the twin it must follow or 0, input, output,
its operation's rank in call order among the non-optional ops, or among the
optional ones, read-only: True, False, or None if optional). Ranks are turned
into bits when needed: a table of masks would take O(n^2) memory."""

Frame = tuple[Any, Any, bool | None, Any, int]
"""A linearized op on the search's stack: its call entry, the state before it, its
read-only flag, and the scan limit and state id before it (see `run`). The entry
and the limit are typed Any: the build stores the shared int objects of `box`
instead of allocating new ones."""

_RETURN: Meta = (0, None, None, 0, False)
"""The meta of a return entry (never read: `ret` tells calls from returns)."""


_NOT_ASKED: Final = -2


class _Kind:
    """What `_thread` knows of one kind of op (equal input and output)."""

    __slots__ = ("last", "read_only", "want")

    def __init__(self, last: int) -> None:
        self.last = last  # the call entry of the op of this kind called last, or 0
        self.read_only = False
        self.want = _NOT_ASKED  # the id of the one state it is legal in, or -1 for none


class Search:
    """A resumable Wing–Gong–Lowe search over one partition's history.

    `run(steps)` advances the search by at most `steps` steps and returns True
    (linearizable), False (illegal) or None (not finished yet). With `verbose`,
    it also records, for every operation, the longest partial linearization
    containing it (Porcupine's computePartial).
    """

    def __init__(self, model: Model, history: list[Operation], *, verbose: bool = False) -> None:
        self.history = history
        self.verbose = verbose
        self.step, self.state = _keyed_step(model)
        self.lin = self.base = self.olin = 0  # the linearized set, windowed: see _cache_key
        self.calls: list[Frame] = []
        self.cache: set[int] = set()
        self.sids: dict[Any, int] = {}
        self.sid = self._sid(self.state)
        self.accounted_bytes = 0  # what the scheduler's budget has counted of `cache_bytes()`
        self.done: bool | None = None
        self._best: list[int] = []
        # `best`, not yet turned into op indices; typed Any: reading one item of a
        # frame then costs less than unpacking all five
        self._best_frames: list[Any] | None = None
        self._best_len = 0
        self.blocker: int | None = None
        n = len(history) if verbose else 0  # partial linearizations: verbose only
        self.partial_len = [0] * n
        self.partial_seq: list[list[int] | None] = [None] * n
        observes = None if model.custom_equality else model.observes
        self._thread(history, model.read_only, observes)
        self.growth = thread_growth(model, self.meta, self.ret, len(self.want))

    def _sid(self, state: Any) -> int:
        """The id of `state` (equal states, equal ids); -1 if it is not hashable."""
        sids = self.sids
        try:
            return sids.setdefault(state, len(sids))
        except TypeError:
            return -1

    def _thread(
        self,
        history: list[Operation],
        read_only: Callable[..., bool] | None,
        observes: Callable[..., Any] | None,
    ) -> None:
        """Builds the sorted, linked entry arrays; entry 0 is the head, the last the tail.

        Also notes, per call entry of an op the `observes` hint names a state
        for (any but an optional one), the id of the one state it is legal in
        (-1 for any other call). And orders twins (`_untwin_nested`).
        """
        n = len(history)
        calls, rets = [0] * n, [0] * n
        low = last_call = end = history[0].call if n else 0
        for i in range(n):  # one pass for the columns and bounds (min/max calls are slow)
            op = history[i]
            c, r = op.call, op.return_
            calls[i], rets[i] = c, r
            if c < low:
                low = c
            elif c > last_call:
                last_call = c
            if r > end:
                end = r
        optional = [op.output is _UNKNOWN and op.return_ >= last_call for op in history]
        # Entries sort by (time, kind: call 0, return 1, optional return 2, op), encoded
        # in one int each: sorting ints is several times cheaper than sorting tuples.
        width = 3 * n
        keys = [(c - low) * width + i for i, c in enumerate(calls)]
        for i in range(n):
            keys.append(
                (end - low) * width + 2 * n + i if optional[i] else (rets[i] - low) * width + n + i
            )
        keys.sort()
        size = 2 * n + 4  # the main list's head and tail, then the optional list's
        self.tail = 2 * n + 1
        # The arrays share the int objects of `box` (box[x] is x): the build keeps
        # ints unboxed in variables, so storing one would allocate it. Lists typed
        # list[Any] are written with them.
        ints = list(range(-1, size + 1))
        self.nxt = ints[2:]
        self.prv = ints[:size]
        box: list[Any] = ints[1:]
        self.box, self.no_limit = box, size  # the scan limit in phase 1 (see `run`): past all
        self.op = [-1] * size
        self.meta: list[Meta] = [_RETURN] * size
        # per entry: a call's return entry (> 0); 0 for a return, -1 for an optional one
        self.ret = [0] * size
        self.want = [-1] * size
        # per op: its call entry, then the calls before its return (twins' nesting)
        optional_calls = self._link(history, keys, optional, read_only, observes, rets, calls)
        self.lim, self.has_optional = size, bool(optional_calls)
        if optional_calls:
            self._thread_optional(optional_calls)
        self.e = self.nxt[0]

    def _link(
        self,
        history: list[Operation],
        keys: list[int],
        optional: list[bool],
        read_only: Callable[..., bool] | None,
        observes: Callable[..., Any] | None,
        call_of: list[int],
        block: list[int],
    ) -> list[int]:
        """Fills the per-entry arrays from the sorted keys, in one pass; returns the
        optional ops' call entries (in call order).

        Per kind (input, output): the call entry of that kind called last, and
        the hints (asked once per kind: they depend on input and output only).
        """
        n, width, box = len(history), 3 * len(history), self.box
        op_of, meta, want = cast("list[Any]", self.op), cast("list[Any]", self.meta), self.want
        ret, call_of_o = cast("list[Any]", self.ret), cast("list[Any]", call_of)
        block_o = cast("list[Any]", block)
        self.opt_ops: list[int] = []  # the optional ops, in call order
        kinds: dict[Any, _Kind] = {}
        twinned: list[int] = []  # call entries with a twin
        optional_calls: list[int] = []
        calls_seen = k = 0
        for key in keys:
            k += 1
            r = key % width
            if r >= n:  # a return
                i = r - n if r < 2 * n else r - 2 * n
                op_of[k] = box[i]
                ret[call_of[i]] = box[k]
                block_o[i] = box[calls_seen]
                if r >= 2 * n:
                    ret[k] = -1
                continue
            op_of[k], call_of_o[r] = box[r], box[k]
            op = history[r]
            inp, out = op.input, op.output
            try:
                kind = kinds.get((inp, out))
            except TypeError:  # unhashable input or output: no twins, hints asked each time
                kind = _Kind(0)
            else:
                if kind is None:
                    kind = kinds[(inp, out)] = _Kind(0)
            if optional[r]:
                ro: bool | None = None
                b = len(self.opt_ops)
                self.opt_ops.append(r)
                optional_calls.append(k)
            else:
                if kind.want == _NOT_ASKED:
                    self._ask(kind, inp, out, read_only, observes)
                ro = kind.read_only
                want[k] = kind.want
                b = calls_seen - len(self.opt_ops)
            twin = 0
            if not ro:  # twins: read-only ops never branch, they need no order
                twin, kind.last = kind.last, k
                if twin:
                    twinned.append(k)
            meta[k] = (box[twin], inp, out, box[b], ro)
            calls_seen += 1
        self._untwin_nested(twinned, block)
        return optional_calls

    def _untwin_nested(self, twinned: list[int], block: list[int]) -> None:
        """Frees an op from its twin when the twin's interval holds its own.

        Twins: an operation may be linearized only after the last one called
        before it with equal input and output, unless that one returns later
        (after more calls): a nested interval is free. (Swapping two such
        operations in a linearization keeps real time and every state.)
        """
        meta, op_of = self.meta, self.op
        for k in twinned:
            twin, inp, out, b, ro = meta[k]
            if block[op_of[twin]] > block[op_of[k]]:  # nested in the twin's interval
                meta[k] = (0, inp, out, b, ro)

    def _ask(
        self,
        kind: _Kind,
        inp: Any,
        out: Any,
        read_only: Callable[..., bool] | None,
        observes: Callable[..., Any] | None,
    ) -> None:
        """Asks the model's hints about one kind of (non-optional) op: read-only, and
        the one state it is legal in (its id, or -1)."""
        kind.read_only = bool(read_only and read_only(inp, out))
        seen = observes(inp, out) if observes is not None else _UNKNOWN
        kind.want = -1 if seen is _UNKNOWN else self._sid(seen)

    def _thread_optional(self, calls: list[int]) -> None:
        """Moves the optional ops' call entries to a list of their own, in call order.

        The search tries them only after every other op at a configuration (they
        never block, and trying them first branches wide for nothing), so the
        main list's scan need not pass them.
        """
        nxt, prv, head = self.nxt, self.prv, self.tail + 1
        for k in calls:
            p, q = prv[k], nxt[k]
            nxt[p], prv[q] = q, p
        chain = [head, *calls, head + 1]
        for a, b in zip(chain, chain[1:]):
            nxt[a], prv[b] = b, a

    def run(self, steps: int, deadline: float = math.inf) -> bool | None:
        """Advances at most `steps` steps, or until the monotonic clock passes `deadline`.

        Returns True (linearizable), False (illegal) or None (unfinished).
        """
        if self.done is not None or self.e == self.tail:
            return self._finish(True) if self.done is None else self.done
        nxt, prv, meta, ret, step = self.nxt, self.prv, self.meta, self.ret, self.step
        cache, calls, tail, want = self.cache, self.calls, self.tail, self.want
        e, state, best_len, cur = self.e, self.state, self._best_len, self.sid
        lin, base, olin = self.lin, self.base, self.olin
        sids, growth = self.sids, self.growth
        shift = len(self.opt_ops)
        width = 32 + len(self.history).bit_length()
        # the same lists, written with the shared int objects of `box` (see `_thread`)
        box, nxt_o, prv_o = self.box, cast("list[Any]", nxt), cast("list[Any]", prv)
        # Phase 2 of a configuration walks the optional list up to `lim`, the first
        # return of the main list; in phase 1 `lim` is `no_limit`.
        late, lim, opt_head, no_limit = self.has_optional, self.lim, self.tail + 1, self.no_limit
        # the clock is read once per DEADLINE_EVERY_STEPS steps (the inner loop)
        for _ in range(0, steps, DEADLINE_EVERY_STEPS):
            if time.monotonic() > deadline:
                break
            for _ in range(DEADLINE_EVERY_STEPS):
                m = ret[e]
                if m > 0 and e < lim:
                    w = want[e]
                    if w >= 0 and w != cur:  # legal in another state only: the model refuses it
                        e = nxt[e]
                        continue
                    twin, i, o, b, ro = meta[e]
                    if twin and nxt[prv[twin]] == twin:  # its twin's call is still listed
                        e = nxt[e]
                        continue
                    if ro and w >= 0:  # legal here (`observes`), keeps the state (`read_only`)
                        ok, new_state = True, state
                    else:
                        ok, new_state = step(state, i, o)
                    if ro is None and new_state == state:  # optional and changes nothing here
                        e = nxt[e]
                        continue
                    if ok:
                        if growth is not None and not ro:
                            if dead(growth, nxt, tail, ret, new_state, e, m):
                                e = nxt[e]  # no pending read can follow: a dead end, not cached
                                continue
                        new_lin, new_base, new_olin = lin, base, olin
                        if ro is None:
                            new_olin = olin | 1 << b
                        elif b == base:  # the lowest open op: the window moves up
                            new_lin, new_base = lin >> 1, base + 1
                            while new_lin & 1:
                                new_lin >>= 1
                                new_base += 1
                        else:
                            new_lin = lin | 1 << (b - base)
                        sid = cur if ro and w >= 0 else sids.get(new_state)
                        if sid is None:
                            sid = sids[new_state] = len(sids)
                        key = _cache_key(new_base, new_lin, new_olin, sid, shift, width)
                        cached = len(cache)
                        # dominated: the same without optional ops is cached
                        if not (new_olin and key ^ new_olin << width in cache):
                            cache.add(key)  # and new if the set grew: one lookup, not two
                        if len(cache) > cached:
                            calls.append((box[e], state, ro, box[lim], cur))
                            state, lim, cur = new_state, no_limit, sid
                            lin, base, olin = new_lin, new_base, new_olin
                            p, q = prv[e], nxt[e]
                            nxt_o[p], prv_o[q] = box[q], box[p]
                            p, q = prv[m], nxt[m]
                            nxt_o[p], prv_o[q] = box[q], box[p]
                            e = nxt[0]
                            if e == tail:
                                self.olin = olin
                                return self._finish(True)
                            continue
                        if ro:  # the greedy move was tried already: no alternative helps
                            e = lim = m
                            continue
                    e = nxt[e]
                    continue
                if m < 0:  # only optional operations are left: append them at the end
                    self.olin = olin
                    return self._finish(True)
                if late and lim == no_limit:  # now the optional ops called before this return
                    lim, e = e, nxt[opt_head]
                    continue
                if len(calls) >= best_len:
                    best_len = self._record_best(e if lim == no_limit else lim)
                if not calls:
                    return self._finish(False)
                if self.verbose:
                    self._record_partials()
                e, state, forced, lim, cur = calls.pop()
                m, b = ret[e], meta[e][3]
                if forced is None:  # optional
                    olin ^= 1 << b
                elif b < base:  # ops b+1 .. base-1 stay linearized: the window moves down
                    d = base - b
                    lin, base = lin << d | ((1 << d) - 2), b
                else:
                    lin ^= 1 << (b - base)
                nxt_o[prv[m]] = prv_o[nxt[m]] = box[m]
                nxt_o[prv[e]] = prv_o[nxt[e]] = box[e]
                if forced:  # no alternative helps: straight on to the return, and back
                    e = lim = m
                else:
                    e = nxt[e]
        self.e, self.state, self.lim, self.sid = e, state, lim, cur
        self.lin, self.base, self.olin = lin, base, olin
        return None

    @property
    def best(self) -> list[int]:
        """The longest linearizable prefix found so far (indices into `history`)."""
        if self._best_frames is not None:  # turned into op indices once, when asked
            self._best = self._prefix(self._best_frames)
            self._best_frames = None
        return self._best

    def _record_best(self, ret_entry: int) -> int:
        """Remembers the current prefix as the longest and the op whose return blocked it.

        A prefix may be recorded many times on the way down: it is kept as a copy
        of the search's stack (one memcpy), and turned into op indices only when
        `best` is read.
        """
        calls = self.calls
        if len(calls) > self._best_len or self.blocker is None:
            self._best_frames = calls.copy()
            self._best_len = len(calls)
            self.blocker = self.op[ret_entry]
        return self._best_len + 1

    def _record_partials(self) -> None:
        """Records the current prefix for every op in it that has no longer one yet."""
        length = len(self.calls)
        seq: list[int] | None = None
        for c, _, _, _, _ in self.calls:
            i = self.op[c]
            if self.partial_len[i] < length:
                if seq is None:
                    seq = self._prefix(self._frames())
                self.partial_len[i] = length
                self.partial_seq[i] = seq

    def _frames(self) -> list[Any]:
        """The search's stack, typed so that one item of a frame is read alone."""
        return self.calls

    def _prefix(self, frames: list[Any]) -> list[int]:
        """The ops (indices into `history`) of a copy of the stack, in order."""
        op = self.op
        return [op[f[0]] for f in frames]

    def _finish(self, ok: bool) -> bool:
        self.done = ok
        if ok:
            best = self._prefix(self._frames())
            olin = self.olin  # optional ones left out go last, in call order
            best += [i for j, i in enumerate(self.opt_ops) if not olin >> j & 1]
            self._best, self._best_frames, self._best_len = best, None, len(best)
            self.blocker = None
            if self.verbose:
                self.partial_len = [len(self.best)] * len(self.history)
                self.partial_seq = [self.best] * len(self.history)
        return ok

    def cache_bytes(self) -> int:
        """An estimate of the memory the cache holds."""
        # the current state stands for all: measuring each new one cost a third of the search
        per_state = _STATE_BYTES + _state_bytes(self.state)
        return len(self.cache) * _ENTRY_BYTES + len(self.sids) * per_state

    def info(self) -> PartitionInfo:
        """The verdict and evidence so far (UNKNOWN while unfinished)."""
        if self.done is None:
            result = CheckResult.UNKNOWN
        else:
            result = CheckResult.OK if self.done else CheckResult.ILLEGAL
        partials: list[list[int]] = []
        seen: set[int] = set()
        for seq in self.partial_seq:
            if seq is not None and id(seq) not in seen:
                seen.add(id(seq))
                partials.append(seq)
        illegal = self.blocker if result is CheckResult.ILLEGAL else None
        return PartitionInfo(self.history, result, self.best, illegal, partials)
