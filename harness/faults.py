"""Faults as data: the records a nemesis schedule is made of.

A `Fault` is a plain, frozen record (what, when, on whom, with which
parameters) that round-trips through JSON (`schedule.json`). It is validated
when built: a bad kind, shape, parameter or time is refused with a
`FaultError` naming the field, so every `Fault` that exists can be run on a
cluster whose names it matches (`check_names`). `PARAMS` lists, per kind, the
parameters a fault may carry and which are required; `FIELDS` is the JSON
form's fields. Carrying faults out is harness/nemesis.py's job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from harness.mesh import CLIENT
from harness.partitions import PartitionMode, Shape
from harness.targeting import Scope


class NemesisError(RuntimeError):
    """A fault could not be applied, verified or reverted; the message says which."""


class FaultKind(StrEnum):
    """What a fault does."""

    PARTITION = "partition"
    KILL = "kill"
    PAUSE = "pause"
    CLOCK = "clock"
    LATENCY = "latency"
    BANDWIDTH = "bandwidth"
    CRASH = "crash"  # kill -9 and lose what the node had not fsync'd (LazyFS)
    WIPE = "wipe"  # kill -9 and delete the data directory (amnesia)
    RESET_PEER = "reset_peer"  # connections through the targets' links are reset
    LIMIT_DATA = "limit_data"  # connections close after a few bytes
    JOIN = "join"  # a spare node joins the ring (stop: it leaves and stops)
    LEAVE = "leave"  # a member leaves the ring (stop: it rejoins)
    REPLACE = "replace"  # a spare joins, then a member leaves (stop: the reverse)


class ClockOp(StrEnum):
    """What a clock fault does to its targets' wall clocks."""

    BUMP = "bump"  # move by delta_s from the current offset
    STROBE = "strobe"  # flip between 0 and delta_s every period_ms
    RESET = "reset"  # back to real time
    FREEZE = "freeze"  # the wall clock stops (stays at the moment of the fault)
    RATE = "rate"  # the wall clock runs `rate` times as fast (0.5 slow, 2.0 fast)


class FaultError(ValueError):
    """A fault record that cannot be run; the message names the field."""


Check = Callable[[str, Any], None]


def _number(integer: bool = False, minimum: float | None = None) -> Check:
    def check(where: str, value: Any) -> None:
        kinds = (int,) if integer else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            or not math.isfinite(float(value))
        ):
            raise FaultError(f"{where} must be {'an integer' if integer else 'a number'}, "
                             f"got {value!r}")  # fmt: skip
        if minimum is not None and float(value) < minimum:
            raise FaultError(f"{where} must be at least {minimum}, got {value!r}")

    return check


def _one_of(values: type[StrEnum]) -> Check:
    def check(where: str, value: Any) -> None:
        if value not in {v.value for v in values}:
            known = ", ".join(v.value for v in values)
            raise FaultError(f"{where} must be one of {known}, got {value!r}")

    return check


def _text(where: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise FaultError(f"{where} must be a non-empty string, got {value!r}")


def _links(where: str, value: Any) -> None:
    pairs = isinstance(value, list | tuple) and all(
        isinstance(x, list | tuple) and len(x) == 2 and all(isinstance(n, str) for n in x)
        for x in value
    )
    if not pairs or not value:
        raise FaultError(f"{where} must be a non-empty list of [src, dst] pairs, got {value!r}")


#: A process fault aimed at a key's primaries (harness/targeting.py) instead of targets.
AIM: dict[str, tuple[bool, Check]] = {"key": (False, _text), "scope": (False, _one_of(Scope))}
#: Per kind: parameter -> (required, check). Any other parameter is refused.
PARAMS: dict[FaultKind, dict[str, tuple[bool, Check]]] = {
    FaultKind.PARTITION: {"shape": (True, _one_of(Shape)), "links": (False, _links),
                          "mode": (False, _one_of(PartitionMode))},
    FaultKind.KILL: {**AIM},
    FaultKind.PAUSE: {**AIM},
    FaultKind.CLOCK: {"op": (False, _one_of(ClockOp)), "delta_s": (False, _number()),
                      "period_ms": (False, _number(True, 1)),
                      "rate": (False, _number(minimum=0.01))},
    FaultKind.LATENCY: {"latency_ms": (True, _number(True, 0)),
                        "jitter_ms": (False, _number(True, 0)), "links": (False, _links)},
    FaultKind.BANDWIDTH: {"rate_kbps": (True, _number(True, 0)), "links": (False, _links)},
    FaultKind.CRASH: {**AIM},
    FaultKind.WIPE: {**AIM},
    FaultKind.RESET_PEER: {"timeout_ms": (False, _number(True, 0)), "links": (False, _links)},
    FaultKind.LIMIT_DATA: {"bytes": (True, _number(True, 0)), "links": (False, _links)},
    FaultKind.JOIN: {},
    FaultKind.LEAVE: {},
    FaultKind.REPLACE: {},
}  # fmt: skip
FIELDS = ("id", "kind", "start_s", "end_s", "targets", "params")


@dataclass(frozen=True)
class Fault:
    """One fault: `kind` on `targets` (node names; empty: the nemesis picks) from
    `start_s` to `end_s` (seconds since the test began), with `params`:

    * partition: `shape` (halves, one, majorities-ring, bridge, one-way) or
      `links` ([[src, dst], ...]: cut exactly these); targets: the nodes the
      shape splits (default all); `mode` hold (default) or drop (PartitionMode);
    * kill, pause, crash, wipe: none (stop restarts / resumes), or `key` and
      `scope` (majority, all): the key's primaries by the ring, when no targets;
    * clock: `op` (bump, strobe, freeze, rate, reset; default bump), `delta_s`
      (bump, strobe), `period_ms` (strobe, default 200), `rate` (rate); stop
      resets the targets' clocks;
    * reset_peer (`timeout_ms`, default 0) and limit_data (`bytes`): on both
      streams of every link into or out of a target, or of explicit `links`;
    * join (targets: a spare node), leave (a member), replace (targets: the
      leaving member, then the spare that takes over its data);
    * latency (`latency_ms`, `jitter_ms`) and bandwidth (`rate_kbps`, KB/s): on
      what each link's source sends, for every link into or out of a target
      (client links included), or for explicit `links` ("client" may be a source).

    Construction checks everything that does not need the cluster and raises
    FaultError naming the field; `check_names` checks the names against it."""

    id: int
    kind: FaultKind
    start_s: float
    end_s: float
    targets: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"fault {self.id!r}: field"
        _number(True, 0)(f"{where} 'id'", self.id)
        _one_of(FaultKind)(f"{where} 'kind'", self.kind)
        object.__setattr__(self, "kind", FaultKind(self.kind))
        _number(minimum=0)(f"{where} 'start_s'", self.start_s)
        _number(minimum=self.start_s)(f"{where} 'end_s' (not before start_s)", self.end_s)
        if isinstance(self.targets, str) or not all(isinstance(t, str) for t in self.targets):
            raise FaultError(
                f"{where} 'targets' must be a list of node names, got {self.targets!r}"
            )
        object.__setattr__(self, "targets", tuple(self.targets))
        if not isinstance(self.params, Mapping):
            raise FaultError(f"{where} 'params' must be an object, got {self.params!r}")
        object.__setattr__(self, "params", dict(self.params))
        self._check_params(where)

    def _check_params(self, where: str) -> None:
        spec = PARAMS[self.kind]
        for key in self.params:
            if key not in spec:
                raise FaultError(f"{where} 'params.{key}' is not a parameter of a {self.kind} "
                                 f"fault (allowed: {', '.join(spec) or 'none'})")  # fmt: skip
        for key, (required, check) in spec.items():
            if key in self.params:
                check(f"{where} 'params.{key}'", self.params[key])
            elif required and not (key == "shape" and "links" in self.params):
                raise FaultError(f"{where} 'params.{key}' is required for a {self.kind} fault")
        op = self.params.get("op", ClockOp.BUMP)
        needs = {ClockOp.BUMP: "delta_s", ClockOp.STROBE: "delta_s", ClockOp.RATE: "rate"}
        need = needs.get(ClockOp(op)) if self.kind is FaultKind.CLOCK else None
        if need and need not in self.params:
            raise FaultError(f"{where} 'params.{need}' is required for a clock {op}")

    def check_names(self, nodes: Sequence[str]) -> None:
        """Raises FaultError naming the field when a target or link end is not one of
        `nodes` ("client" may be a link's source), or a link joins a node to itself."""
        known = sorted(nodes)
        unknown = sorted(set(self.targets) - set(known))
        if unknown:
            raise FaultError(f"fault {self.id}: field 'targets' names unknown nodes {unknown} "
                             f"(known: {known})")  # fmt: skip
        links = self.params.get("links", ())
        bad = [[a, b] for a, b in links
               if a == b or b not in known or (a not in known and a != CLIENT)]  # fmt: skip
        if bad:
            raise FaultError(f"fault {self.id}: field 'params.links' has links {bad} with an "
                             f"unknown node or from a node to itself (known: {known})")  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (as in schedule.json)."""
        return {"id": self.id, "kind": self.kind.value, "start_s": self.start_s,
                "end_s": self.end_s, "targets": list(self.targets),
                "params": json.loads(json.dumps(dict(self.params)))}  # fmt: skip

    @staticmethod
    def from_dict(d: Mapping[str, Any]) -> Fault:
        """Reads the JSON form; raises FaultError naming a missing, unknown or bad field."""
        if not isinstance(d, Mapping):
            raise FaultError(f"a fault must be a JSON object, got {d!r}")
        extra = sorted(set(d) - set(FIELDS))
        missing = [f for f in FIELDS[:4] if f not in d]
        if extra or missing:
            what = f"unknown field {extra[0]!r}" if extra else f"field {missing[0]!r} is missing"
            raise FaultError(f"fault {d.get('id')!r}: {what} (fields: {', '.join(FIELDS)})")
        targets = d.get("targets", [])
        if not isinstance(targets, list | tuple):
            raise FaultError(f"fault {d['id']!r}: field 'targets' must be a list, got {targets!r}")
        return Fault(d["id"], d["kind"], d["start_s"], d["end_s"], tuple(targets),
                     d.get("params", {}))  # fmt: skip
