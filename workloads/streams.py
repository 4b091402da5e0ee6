"""Who invokes which ops: process ids and op streams as a function of the seed alone.

A run has `concurrency` client slots. Each slot runs one process at a time; a
process whose op ends `info` is retired and the slot's next incarnation takes
over under a new id (Jepsen's rule). Here that id is `slot + incarnation *
concurrency`, not a shared counter, so it does not depend on which slot hit
an indeterminate op first. Each process draws its ops from its own
`Random(f"{seed}/{process}")`, which nothing but `Workload.next_op` consumes and
which never sees a result, and each slot draws its pauses from its own pace
rng. Guarantee: the k-th op process p invokes is the same in every run with the
seed (only how many ops it gets to invoke depends on timing), whatever the other
processes did and whatever the nodes answered.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

from checkers.history import Op, OpType
from workloads.base import OpSpec, Workload

SCHEME = "process-per-incarnation/v1"
"""Names the derivation below; recorded in schedule.json so a replay can tell it apart."""


def process_id(slot: int, incarnation: int, concurrency: int) -> int:
    """The process id of `slot`'s `incarnation`-th process (0 first)."""
    if not 0 <= slot < concurrency or incarnation < 0:
        raise ValueError(f"slot {slot} / incarnation {incarnation} of {concurrency} slots")
    return slot + incarnation * concurrency


def slot_of(process: int, concurrency: int) -> tuple[int, int]:
    """(slot, incarnation) of a process id: the inverse of `process_id`."""
    return process % concurrency, process // concurrency


def op_rng(seed: int, process: int) -> random.Random:
    """The rng a process draws its ops from (the first incarnation's is `{seed}/{slot}`)."""
    return random.Random(f"{seed}/{process}")


def pace_rng(seed: int, slot: int) -> random.Random:
    """The rng a slot draws its pauses between ops from (never the ops' own rng)."""
    return random.Random(f"{seed}/{slot}/pace")


def op_stream(make: Callable[[], Workload], seed: int, process: int, count: int) -> list[OpSpec]:
    """The first `count` ops `process` invokes in any run with `seed`, drawn on a fresh
    workload (what a replay's invocations must match)."""
    workload, rng = make(), op_rng(seed, process)
    return [workload.next_op(rng, process) for _ in range(count)]


def invocations(ops: Iterable[Op]) -> dict[int, list[OpSpec]]:
    """Each client process's invocations in a history, in order, as the ops it drew."""
    out: dict[int, list[OpSpec]] = {}
    for op in ops:
        if isinstance(op.process, int) and op.type is OpType.INVOKE and op.key is not None:
            out.setdefault(op.process, []).append(OpSpec(op.f, op.key, op.value, op.extra))
    return out


def stream_mismatches(ops: Iterable[Op], make: Callable[[], Workload], seed: int) -> list[str]:
    """Where a history's client invocations differ from what `seed` draws (empty when
    every process invoked a prefix of its own op stream): one line per process."""
    out = []
    for process, got in sorted(invocations(ops).items()):
        want = op_stream(make, seed, process, len(got))
        wrong = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        if wrong is not None:
            out.append(f"process {process}, op {wrong}: invoked {got[wrong]}, "
                       f"seed {seed} draws {want[wrong]}")  # fmt: skip
    return out


def describe(seed: int, concurrency: int) -> dict[str, Any]:
    """The schedule.json record of how this run's op streams and process ids derive."""
    return {
        "scheme": SCHEME,
        "seed": seed,
        "concurrency": concurrency,
        "process": "slot + incarnation * concurrency",
        "op_rng": "Random(f'{seed}/{process}')",
        "pace_rng": "Random(f'{seed}/{slot}/pace')",
        "routing": "slot -> sorted(nodes)[slot % len(nodes)]",
    }
