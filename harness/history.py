"""The recorder: every op goes to `history.jsonl` the moment it happens.

Client workers and the nemesis share one `Recorder` on one asyncio loop. Each
op gets the next `index` and its `time` in ns since the test started (a
monotonic clock). Lines are buffered and flushed every `flush_every` ops and
at close, so recording costs a few microseconds per op; the same ops are kept
in memory for the checkers. The op record and its codec live in
`checkers.history` (checkers import nothing from the harness).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Any

from checkers.history import CHECKER, NEMESIS, Op, OpType, dump_op
from workloads.base import Completion, OpSpec


class Recorder:
    """Appends ops to a JSONL file and to `ops`; not thread-safe (one event loop)."""

    def __init__(self, path: str | Path, flush_every: int = 1000) -> None:
        self.path = Path(path)
        self._file: IO[str] = self.path.open("w", encoding="utf-8", buffering=1 << 20)
        self.t0 = time.monotonic_ns()
        self.ops: list[Op] = []
        self._flush_every = flush_every
        self.counts = {t: 0 for t in OpType}

    def now(self) -> int:
        """Nanoseconds since the test started."""
        return time.monotonic_ns() - self.t0

    def record(self, op: Op) -> Op:
        self.ops.append(op)
        self.counts[op.type] += 1
        self._file.write(dump_op(op))
        self._file.write("\n")
        if len(self.ops) % self._flush_every == 0:
            self._file.flush()
        return op

    def invoke(
        self, process: int | str, f: str, key: str | None = None, value: Any = None, **extra: Any
    ) -> Op:
        """Records the start of an op (`extra`: fields known at invoke, e.g. a put id)."""
        return self._invoked(process, f, key, value, extra)

    def invoke_spec(self, process: int | str, spec: OpSpec) -> Op:
        """Records the start of a client op: `invoke(process, spec.f, spec.key, spec.value,
        **spec.extra)`, without building keyword arguments (it runs once per client op)."""
        return self._invoked(process, spec.f, spec.key, spec.value, dict(spec.extra))

    def _invoked(
        self, process: int | str, f: str, key: str | None, value: Any, extra: dict[str, Any]
    ) -> Op:
        op = Op(len(self.ops), self.now(), process, OpType.INVOKE, f, key, value, extra=extra)
        return self.record(op)

    def complete(self, invoke: Op, type: OpType, **fields: Any) -> Op:
        """Records the completion of `invoke`: same process, f and key; `fields` add the rest.

        Known Op fields (value, context, siblings, node, error) go in place;
        anything else goes into `extra`.
        """
        return self._completed(invoke, type, fields)

    def finish(self, invoke: Op, done: Completion, node: str) -> Op:
        """Records a client op's `done`, answered through `node` unless its fields name
        another: `complete(invoke, done.type, **{"node": node, **done.fields})`, without
        building keyword arguments twice (it runs once per client op)."""
        fields = dict(done.fields)
        fields.setdefault("node", node)
        return self._completed(invoke, done.type, fields)

    def _completed(self, invoke: Op, type: OpType, fields: dict[str, Any]) -> Op:
        """`complete`'s op; takes the known fields out of `fields`, which becomes `extra`."""
        value = fields.pop("value", invoke.value)
        context, siblings = fields.pop("context", None), fields.pop("siblings", None)
        node, error = fields.pop("node", None), fields.pop("error", None)
        op = Op(len(self.ops), self.now(), invoke.process, type, invoke.f, invoke.key,
                value, context, siblings, node, error, fields)  # fmt: skip
        return self.record(op)

    def nemesis(self, f: str, value: dict[str, Any]) -> Op:
        """Records a nemesis event (start / stop / heal) as an info op."""
        return self.record(Op(len(self.ops), self.now(), NEMESIS, OpType.INFO, f, value=value))

    def checker_op(self, f: str, key: str, node: str, **fields: Any) -> Op:
        """Records an observation made by the harness itself (e.g. a replica read)."""
        known = {k: fields.pop(k) for k in ("value", "context", "siblings") if k in fields}
        op = Op(len(self.ops), self.now(), CHECKER, OpType.OK, f, key, node=node,
                extra=fields, **known)  # fmt: skip
        return self.record(op)

    def close(self) -> None:
        self._file.flush()
        self._file.close()
