"""A client's op stream is a function of its seed alone (not of timing or other clients)."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.history import OpType, read_jsonl
from harness.history import Recorder
from node.client import GetResult, NodeError
from workloads import WORKLOADS, Cart, streams
from workloads.base import INDETERMINATE, OpSpec, Workload


def interleaved(workload: str, order: list[int]) -> dict[int, list[OpSpec]]:
    """Draws ops for slots 0..2 in the given interleaving, each slot from its own seeded rng."""
    w = WORKLOADS[workload]()
    rngs = {slot: random.Random(f"42/{slot}") for slot in range(3)}
    out: dict[int, list[OpSpec]] = {slot: [] for slot in rngs}
    for slot in order:
        out[slot].append(w.next_op(rngs[slot], slot))
    return out


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_interleaving_does_not_change_any_stream(workload: str) -> None:
    rr = [0, 1, 2] * 60
    batched = [0] * 60 + [2] * 60 + [1] * 60
    assert interleaved(workload, rr) == interleaved(workload, batched)


def test_cart_streams_remove_only_their_own_adds() -> None:
    ops = interleaved("cart", [0, 1, 2] * 200)
    removes = [op for ops_ in ops.values() for op in ops_ if op.f == "remove"]
    assert removes
    for slot, stream in ops.items():
        added = set()
        for op in stream:
            if op.f == "add":
                added.add(op.value)
            elif op.f == "remove":
                assert op.value in added, (slot, op)


# --- an op's content never depends on a prior op's result ---------------------------


class ScriptedClient:
    """A KVClient whose every answer comes from a script (hypothesis draws it): a value,
    a node error, or an indeterminate outcome. It stands in for every possible cluster."""

    def __init__(self, answers: list[tuple[str, int]]) -> None:
        self.answers = answers
        self.calls = 0

    def _next(self) -> tuple[str, int]:
        self.calls += 1
        return self.answers[self.calls % len(self.answers)]

    async def get(self, key: str) -> GetResult:
        kind, n = self._next()
        self._raise(kind)
        cart = json.dumps({"put": f"x{n}", "items": list(range(n % 7))}).encode()
        siblings = [cart, str(n).encode(), b"\xff"][: 1 + n % 3]
        return GetResult(siblings, n.to_bytes(4, "big"), "n1")

    async def put(self, key: str, value: bytes, context: bytes = b"") -> None:
        self._raise(self._next()[0])

    @staticmethod
    def _raise(kind: str) -> None:
        if kind == "error":
            raise NodeError("unavailable", "scripted")
        if kind == "timeout":
            raise TimeoutError("scripted")


def drawn_with_results(
    make: Callable[[], Workload], answers: list[tuple[str, int]]
) -> list[OpSpec]:
    """Process 0's first 60 ops when each is applied against `answers` before the next is drawn."""
    w, rng, client, out = make(), streams.op_rng(7, 0), ScriptedClient(answers), []

    async def go() -> None:
        for _ in range(60):
            spec = w.next_op(rng, 0)
            out.append(spec)
            try:
                await w.apply(client, spec, 0, {})
            except INDETERMINATE:
                pass

    asyncio.run(go())
    return out


ANSWERS = st.lists(st.tuples(st.sampled_from(["ok", "error", "timeout"]),
                             st.integers(0, 99)), min_size=1, max_size=20)  # fmt: skip


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
@settings(max_examples=30, deadline=None)
@given(answers=ANSWERS)
def test_op_content_does_not_depend_on_results(workload: str, answers: list) -> None:
    make = WORKLOADS[workload]
    assert drawn_with_results(make, answers) == streams.op_stream(make, 7, 0, 60)


class ResultDependentCart(Cart):
    """A planted dependency: removes only items whose add was acknowledged (the old
    Cart._removable), so the op stream depends on what the nodes answered."""

    def __init__(self) -> None:
        super().__init__(carts=1, remove_ratio=0.5)
        self.acked: list[int] = []

    def next_op(self, rng: random.Random, process: int) -> OpSpec:
        spec = super().next_op(rng, process)
        if spec.f == "remove" and self.acked:
            return OpSpec("remove", spec.key, self.acked[-1], spec.extra)
        return spec

    async def apply(self, client, spec, process, learned):  # type: ignore[no-untyped-def]
        done = await super().apply(client, spec, process, learned)
        if spec.f == "add" and done.type is OpType.OK:
            self.acked.append(spec.value)
        return done


def test_the_result_check_catches_a_result_dependent_workload() -> None:
    all_ok = drawn_with_results(ResultDependentCart, [("ok", 1)])
    assert all_ok != streams.op_stream(ResultDependentCart, 7, 0, 60)


# --- process ids and replays -----------------------------------------------------------


def test_process_ids_are_per_slot_and_incarnation() -> None:
    ids = {streams.process_id(s, k, 4) for s in range(4) for k in range(5)}
    assert len(ids) == 20 and ids == set(range(20))
    assert all(streams.slot_of(streams.process_id(s, k, 4), 4) == (s, k)
               for s in range(4) for k in range(5))  # fmt: skip
    assert streams.process_id(2, 0, 4) == 2  # first incarnations keep the slot's number
    with pytest.raises(ValueError):
        streams.process_id(4, 0, 4)


def recorded(specs: dict[int, list[OpSpec]], path: Path) -> list:
    """A history that invoked `specs`, interleaved round-robin, as the engine records it
    (read back from its JSON lines)."""
    rec = Recorder(path)
    queues = {p: list(s) for p, s in specs.items()}
    while any(queues.values()):
        for process, queue in queues.items():
            if queue:
                spec = queue.pop(0)
                invoke = rec.invoke(process, spec.f, spec.key, spec.value, **spec.extra)
                rec.complete(invoke, OpType.INFO if not queue else OpType.OK)
    rec.close()
    return read_jsonl(path)


@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_a_history_drawn_from_the_seed_replays_and_a_changed_op_is_named(
    workload: str, tmp_path: Path
) -> None:
    make = WORKLOADS[workload]
    specs = {p: streams.op_stream(make, 99, p, 5 + p) for p in (0, 1, 2, 5, 8)}
    ops = recorded(specs, tmp_path / "a.jsonl")
    assert streams.stream_mismatches(ops, make, 99) == []
    assert streams.stream_mismatches(ops, make, 98)  # another seed draws other ops
    specs[5][3] = OpSpec("read", "nowhere")
    (only,) = streams.stream_mismatches(recorded(specs, tmp_path / "b.jsonl"), make, 99)
    assert only.startswith("process 5, op 3:")
