"""Seeing a model's state as a map of components, without asking the model.

A state that is a tuple (slots), a frozenset of `(key, value)` pairs with
distinct keys (a map), or a frozenset of other elements (a set) is read as a
map from components to values: slot index, key, or element. `StateShape`
gives that view, the components two states differ in, and `overlay`: a state
with some components taken from one state and the rest from another. Nothing
here trusts the model; `inferred` proposes footprints from it and checks them.

Tuples may grow and shrink (a model that trims trailing defaults, as
`kv-nopartition` does): a slot beyond a tuple's end reads as the `pad` value
when one was learned (the value that fills the slots a step skips over when it
grows a tuple), and as absent otherwise.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

ABSENT: Any = object()
"""A component a state does not have (a slot past a tuple's end with no pad, a missing key)."""


class Kind(enum.Enum):
    TUPLE = "tuple"
    MAP = "map"
    SET = "set"


def kind_of(state: Any) -> Kind | None:
    """How `state` splits into components, or None if it does not (a number, a string)."""
    if type(state) is tuple:
        return Kind.TUPLE
    if type(state) is frozenset:
        pairs = all(type(x) is tuple and len(x) == 2 for x in state)
        if pairs and len({x[0] for x in state}) == len(state):
            return Kind.MAP
        return Kind.SET
    return None


@dataclass(slots=True)
class StateShape:
    """Views of states of one kind; `pad` is what a tuple slot past its end reads as."""

    kind: Kind
    pad: Any = ABSENT
    trims: bool = False
    """A tuple never ends with `pad` (the model trims it): overlays trim it too."""

    def view(self, state: Any) -> dict[Hashable, Any]:
        """The state as a map from component to value."""
        if self.kind is Kind.TUPLE:
            return dict(enumerate(state))
        if self.kind is Kind.MAP:
            return dict(state)
        return dict.fromkeys(state, True)

    def get(self, view: dict[Hashable, Any], c: Hashable) -> Any:
        return view.get(c, self.pad if self.kind is Kind.TUPLE else ABSENT)

    def changed(self, before: Any, after: Any) -> set[Hashable]:
        """The components whose value differs between two states."""
        if before == after:
            return set()
        if self.kind is Kind.TUPLE:
            return self._changed_tuple(before, after)
        a, b = self.view(before), self.view(after)
        return {c for c in a.keys() | b.keys() if self.get(a, c) != self.get(b, c)}

    def _changed_tuple(self, a: tuple[Any, ...], b: tuple[Any, ...]) -> set[Hashable]:
        out: set[Hashable] = {i for i, (x, y) in enumerate(zip(a, b)) if x != y}
        longer, start = (a, len(b)) if len(a) > len(b) else (b, len(a))
        out.update(i for i in range(start, len(longer)) if longer[i] != self.pad)
        return out

    def overlay(self, base: Any, src: Any, comps: Iterable[Hashable]) -> Any:
        """`base` with the components `comps` taken from `src`; ABSENT if no state can say so."""
        comps = set(comps)
        if self.kind is Kind.TUPLE:
            return self._overlay_tuple(base, src, comps)
        b, s = self.view(base), self.view(src)
        merged = {c: v for c, v in b.items() if c not in comps}
        merged.update((c, s[c]) for c in comps if c in s)
        if self.kind is Kind.MAP:
            return frozenset(merged.items())
        return frozenset(merged)

    def _overlay_tuple(self, base: tuple[Any, ...], src: tuple[Any, ...], comps: set[Any]) -> Any:
        if len(comps) == 1:  # the probes' case: one slot, inside both tuples
            (i,) = comps
            if type(i) is int and 0 <= i < len(base) and i < len(src):
                one = base[:i] + (src[i],) + base[i + 1 :]
                return self._trim(one) if self.trims else one
        out = []
        for i in range(max(len(base), len(src))):
            t = src if i in comps else base
            if i < len(t):
                out.append(t[i])
            elif self.pad is ABSENT:
                return ABSENT  # a hole in the middle of a tuple: not expressible
            else:
                out.append(self.pad)
        return self._trim(tuple(out)) if self.trims else tuple(out)

    def _trim(self, out: tuple[Any, ...]) -> tuple[Any, ...]:
        end = len(out)
        while end and out[end - 1] == self.pad:
            end -= 1
        return out[:end]


def learn_shape(init: Any, steps: Iterable[tuple[Any, Any]]) -> StateShape | None:
    """The shape of `init` and of every `(before, after)` pair, or None if they differ.

    For tuples, learns the pad: the one value found in every slot a step adds
    besides the last one (growing `("a",)` to `("a", "", "", "b")` pads with
    `""`), if that value is the same everywhere.
    """
    steps = list(steps)
    kinds = {kind_of(init)} | {kind_of(after) for _, after in steps}
    if None in kinds or (Kind.TUPLE in kinds and len(kinds) > 1):
        return None
    kind = Kind.TUPLE if Kind.TUPLE in kinds else Kind.SET if Kind.SET in kinds else Kind.MAP
    shape = StateShape(kind)
    if kind is not Kind.TUPLE:
        return shape
    fillers: set[Any] = set()
    ends: list[Any] = [init[-1]] if init else []
    for before, after in steps:
        if after:
            ends.append(after[-1])
        if len(after) > len(before) + 1:
            try:
                fillers.update(after[len(before) : -1])
            except TypeError:  # unhashable slot values: no pad
                return shape
    if len(fillers) == 1:
        shape.pad = next(iter(fillers))
        shape.trims = all(e != shape.pad for e in ends)
    return shape
