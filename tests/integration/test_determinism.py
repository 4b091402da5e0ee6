"""The same seed twice on real node processes: the same op streams and the same faults.

Two short runs (3 nodes on loopback, partitions and kills) with one seed may
differ in thread timing only: every process invokes a prefix of the op stream
the seed draws for it (so the two runs agree wherever both got that far),
process ids follow (slot, incarnation), and the realised faults (kinds,
targets, params, the links a partition cut) are identical.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from checkers.history import Op, OpType, read_jsonl
from harness.runner import Outcome, RunConfig, run_test
from workloads import WORKLOADS, streams

SEED = 4242
CONCURRENCY = 3


def run(store: Path) -> Outcome:
    cfg = RunConfig(nodes=3, workload="cart", nemesis=("partition", "kill"), time_limit_s=7.0,
                    rate=40.0, concurrency=CONCURRENCY, seed=SEED, quiesce_s=1.0,
                    liveness=False, nemesis_interval_s=1.0, store=str(store))  # fmt: skip
    out = io.StringIO()
    outcome = run_test(cfg, "sibyl run (determinism test)", Console(file=out, width=200))
    print(out.getvalue())
    return outcome


def realised(outcome: Outcome) -> list[dict[str, Any]]:
    doc = json.loads((outcome.run_dir / "schedule.json").read_text())
    assert doc["seed"] == SEED and doc["streams"]["scheme"] == streams.SCHEME
    return [{k: f[k] for k in ("id", "kind", "targets", "params")} for f in doc["realised"]]


def retired_before_next_incarnation(ops: list[Op]) -> None:
    """Process (slot, k) invokes only after (slot, k - 1) ended its last op with info."""
    last: dict[int, OpType] = {}
    for op in ops:
        if isinstance(op.process, int) and op.type is not OpType.INVOKE:
            last[op.process] = op.type
    for process in last:
        slot, k = streams.slot_of(process, CONCURRENCY)
        if k:
            assert last[streams.process_id(slot, k - 1, CONCURRENCY)] is OpType.INFO, process


def test_same_seed_same_op_streams_and_faults(tmp_path: Path) -> None:
    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    histories = [read_jsonl(o.run_dir / "history.jsonl") for o in (first, second)]
    for ops in histories:
        assert streams.stream_mismatches(ops, WORKLOADS["cart"], SEED) == []
        retired_before_next_incarnation(ops)
    a, b = (streams.invocations(ops) for ops in histories)
    assert set(range(CONCURRENCY)) <= set(a) & set(b)
    for process in set(a) & set(b):
        n = min(len(a[process]), len(b[process]))
        assert a[process][:n] == b[process][:n], process
    assert min(len(a[s]) for s in range(CONCURRENCY)) >= 10  # the streams were exercised
    # A kill cuts its node's client off mid-stream (info): later incarnations ran too.
    assert max(a) >= CONCURRENCY and max(b) >= CONCURRENCY
    faults = realised(first)
    assert faults == realised(second)
    assert {f["kind"] for f in faults} == {"partition", "kill"}
    assert all(f["targets"] for f in faults)
    assert all(f["params"].get("links") for f in faults if f["kind"] == "partition")
