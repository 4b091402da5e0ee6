"""What every workload provides: an op generator, a client, final reads and its checkers.

A workload is a small object satisfying `Workload`. The runner asks it for the
next op of a process (`next_op`, pure given the process's seeded rng), runs it
with `apply` against one node, and records the `Completion`. After heal and
quiescence it reads every key on every node with `final_read`, and finally
hands the history to the workload's checkers.

Outcomes follow Jepsen: `ok` happened; `fail` definitely did not (or, for a
Dynamo put, may have landed: see docs/history.md); `info` is indeterminate and
the process is retired.
"""

from __future__ import annotations

import binascii
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from checkers.checker import Checker
from checkers.history import OpType
from node.client import ConnectionLost, GetResult, NodeError


@dataclass(init=False)
class OpSpec:
    """An op to invoke: function, key, argument, and fields known at invoke (e.g. a put id).

    Immutable as `checkers.history.Op` is (`Final` fields; its docstring says why), and
    for the same reason: one is built per client op.
    """

    f: Final[str]
    key: Final[str]
    value: Final[Any]
    extra: Final[Mapping[str, Any]]

    def __init__(
        self, f: str, key: str, value: Any = None, extra: Mapping[str, Any] | None = None
    ) -> None:
        self.f = f
        self.key = key
        self.value = value
        self.extra = {} if extra is None else extra


@dataclass(init=False)
class Completion:
    """How an op ended, and the fields to record with it."""

    type: OpType
    fields: dict[str, Any]

    def __init__(self, type: OpType, fields: dict[str, Any] | None = None) -> None:
        self.type = type
        self.fields = {} if fields is None else fields


class KVClient(Protocol):
    """What a workload needs from a client of one node (the seam between a workload and
    where it runs): `node.client.Client` on real processes, `node.sim.clients.SimClient`
    on the simulator. Both raise NodeError for a node's error reply and an `INDETERMINATE`
    exception when nobody knows whether the request took effect."""

    async def get(self, key: str) -> GetResult: ...

    async def put(self, key: str, value: bytes, context: bytes = b"") -> None: ...


class Workload(Protocol):
    """An op generator + client + final reads + checkers."""

    name: str

    def keys(self) -> list[str]:
        """Every key the workload touches (final reads cover all of them)."""
        ...

    def next_op(self, rng: random.Random, process: int) -> OpSpec:
        """The next op for `process`; depends only on the rng and the workload's state."""
        ...

    async def apply(
        self, client: KVClient, spec: OpSpec, process: int, learned: dict[str, Any]
    ) -> Completion:
        """Runs `spec` through `client`; raises only for indeterminate outcomes.

        Whatever the op learns on the way (the parents a get saw, the context
        it will send) goes into `learned` at once, so that an op that then
        times out is still recorded with it.
        """
        ...

    async def final_read(self, client: KVClient, key: str) -> Completion:
        """One read of `key` after heal, recorded with `final: true`."""
        ...

    def checkers(self, opts: Mapping[str, Any]) -> dict[str, Checker]:
        """Checker name -> function from the history to a Result."""
        ...


def b64(data: bytes) -> str:
    """How contexts appear in histories: base64 text (`base64.b64encode`'s, without its
    Python wrapper: this runs once per op)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


INDETERMINATE = (TimeoutError, ConnectionLost, ConnectionError, OSError)
"""Client exceptions after which nobody knows whether the op took effect."""


def node_error(e: NodeError, step: str) -> str:
    """The `error` field for a node's error reply during `step` (e.g. "get", "put")."""
    return f"{step}: {e.code}: {e.message}"


async def read_op(
    client: KVClient, key: str, decode: Callable[[bytes], Any]
) -> tuple[Completion, GetResult | None]:
    """A get recorded as a read: the decoded siblings and the context.

    A get the node refused is a definite `fail` (reads change nothing); any
    other failure raises, for the runner to record as `info`.
    """
    try:
        got = await client.get(key)
    except NodeError as e:
        return Completion(OpType.FAIL, {"error": node_error(e, "get")}), None
    fields = {"siblings": [decode(s) for s in got.siblings], "context": b64(got.context),
              "node": got.node}  # fmt: skip
    return Completion(OpType.OK, fields), got
