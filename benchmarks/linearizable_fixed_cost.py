"""Times one linearizability check of a small (20-op) register history: the fixed cost.

Three histories of one key, `cas_register(0)`: `sequential` (no overlap: the
call-order replay decides it), `concurrent` (a real register's history with
overlapping ops that the replay cannot place, so the search decides it, seeded
for the same history every run) and `illegal` (a read of a value never
written: the replay fails and the search refutes it). The anchor, measured in
the same run, is a bare Python loop stepping the model over the same 20 ops:
no checker can take less. Prints the best of `--repeat` batches, in
microseconds per check (process CPU time with `--cpu`).

    .venv/bin/python benchmarks/linearizable_fixed_cost.py [--ops 20] [--repeat 7] [--cpu]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from checkers.linearizable import CheckResult, Model, Operation, check_operations  # noqa: E402
from checkers.linearizable.models import cas_register  # noqa: E402
from checkers.linearizable.replay import replay_in_call_order  # noqa: E402


def register_history(n: int, rng: random.Random, overlap: int) -> list[Operation]:
    """A real register's history: op i takes effect at 10*i, within [call, return]."""
    state, ops = 0, []
    for i in range(n):
        point = 10 * i
        kind = rng.choice(["read", "write", "cas"])
        if kind == "read":
            inp, out = ("read", None, None), state
        elif kind == "write":
            value = rng.randint(0, 3)
            inp, out, state = ("write", None, value), None, value
        else:
            frm, to = rng.randint(0, 3), rng.randint(0, 3)
            inp, out = ("cas", None, (frm, to)), state == frm
            state = to if out else state
        before, after = rng.randint(0, overlap), rng.randint(0, overlap)
        ops.append(Operation(i % 4, inp, point - before, out, point + after))
    return ops


def concurrent_history(n: int, model: Model) -> list[Operation]:
    """The first seeded overlapping history the call-order replay cannot decide."""
    for seed in range(10_000):
        ops = register_history(n, random.Random(seed), overlap=25)
        if replay_in_call_order(model, ops, math.inf) is None:
            return ops
    raise RuntimeError("every seeded history replays; raise the overlap")


def bare_steps(model: Model, ops: list[Operation]) -> None:
    """The anchor: step the model over the ops in order, nothing else."""
    step, state = model.step, model.init()
    for op in ops:
        _, state = step(state, op.input, op.output)


def best_us(fn: Callable[[], object], repeat: int, timer: Callable[[], float]) -> float:
    """Best of `repeat` batches, in microseconds per call."""
    number = 2000
    return min(timeit.repeat(fn, number=number, repeat=repeat, timer=timer)) / number * 1e6


def main() -> int:
    """Prints the per-check cost of each history next to the anchor."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ops", type=int, default=20, help="operations per history")
    ap.add_argument("--repeat", type=int, default=7, help="timed batches (best is shown)")
    ap.add_argument("--cpu", action="store_true", help="time with process CPU time")
    args = ap.parse_args()
    timer = time.process_time if args.cpu else time.perf_counter
    model = cas_register(0)
    sequential = register_history(args.ops, random.Random(1), overlap=0)
    illegal = list(sequential)
    reads = [i for i, op in enumerate(illegal) if op.input[0] == "read"]
    i = reads[len(reads) // 2]
    illegal[i] = Operation(0, illegal[i].input, illegal[i].call, 99, illegal[i].return_)
    histories = {
        "sequential": (sequential, CheckResult.OK),
        "concurrent": (concurrent_history(args.ops, model), CheckResult.OK),
        "illegal": (illegal, CheckResult.ILLEGAL),
    }
    anchor = best_us(lambda: bare_steps(model, sequential), args.repeat, timer)
    print(f"{args.ops}-op register histories, one key; microseconds per check (best batch)")
    print(f"{'anchor: bare model steps':28} {anchor:8.1f} us")
    for name, (ops, expected) in histories.items():
        got = check_operations(model, ops)
        if got is not expected:
            print(f"{name}: verdict {got.value}, expected {expected.value}", file=sys.stderr)
            return 1
        us = best_us(lambda ops=ops: check_operations(model, ops), args.repeat, timer)
        print(f"{name + ' (' + expected.value + ')':28} {us:8.1f} us  ({us / anchor:.1f}x anchor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
