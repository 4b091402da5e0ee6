"""The register: reads and writes of unique integers on a few keys, for linearizability.

In strict mode the node serves a register (a quorum read before every write,
a total-order tie-break on reads), so the history must be linearizable; in
sloppy mode it is expected not to be under partitions (the checker's
self-test). A read records the siblings it got: one value, or several when
concurrent writes left siblings (which no register can explain). A write
sends the context of the process's last read of that key.

There is no cas: a Dynamo node has no atomic read-modify-write, so a cas
would only test the client.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from checkers import linearizable
from checkers.history import OpType
from node.client import NodeError
from workloads.base import Checker, Completion, KVClient, OpSpec, node_error, read_op


def _int_or_raw(raw: bytes) -> Any:
    try:
        return int(raw)
    except ValueError:
        return raw.hex()


class Register:
    """Reads and blind-ish writes (with the last context seen) on `keys` registers."""

    name = "register"

    def __init__(self, keys: int = 3, read_ratio: float = 0.5) -> None:
        self._keys = [f"reg-{i}" for i in range(keys)]
        self.read_ratio = read_ratio
        self._contexts: dict[tuple[int, str], bytes] = {}

    def keys(self) -> list[str]:
        return list(self._keys)

    def next_op(self, rng: random.Random, process: int) -> OpSpec:
        key = rng.choice(self._keys)
        if rng.random() < self.read_ratio:
            return OpSpec("read", key)
        return OpSpec("write", key, rng.getrandbits(53))  # unique w.h.p., from the stream alone

    async def apply(
        self, client: KVClient, spec: OpSpec, process: int, learned: dict[str, Any] | None = None
    ) -> Completion:
        if spec.f == "read":
            done, got = await read_op(client, spec.key, _int_or_raw)
            if got is not None:
                self._contexts[(process, spec.key)] = got.context
            return done
        ctx = self._contexts.get((process, spec.key), b"")
        try:
            await client.put(spec.key, str(spec.value).encode(), ctx)
        except NodeError as e:
            return Completion(OpType.FAIL, {"error": node_error(e, "put")})
        return Completion(OpType.OK, {})

    async def final_read(self, client: KVClient, key: str) -> Completion:
        done = await self.apply(client, OpSpec("read", key), -1)
        done.fields["final"] = True
        return done

    def checkers(self, opts: Mapping[str, Any]) -> dict[str, Checker]:
        limit = float(opts.get("time_limit_s", 60.0))
        return {"linearizable": lambda h: linearizable.check(h, timeout_s=limit)}
