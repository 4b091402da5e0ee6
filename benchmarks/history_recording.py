"""How fast the recorder writes history: invoke + completion pairs per second.

Records cart-shaped ops (an add with its put id, parents and context) for a
fixed count, and in the same run times a bare `json.dumps` + file write of the
same records as the anchor. The goal is >= 20,000 ops/s so recording is never
the bottleneck of a run.

    .venv/bin/python benchmarks/history_recording.py [--ops 200000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from checkers.history import OpType  # noqa: E402
from harness.history import Recorder  # noqa: E402

CTX = "kZOtbjQuYjIwMWYwMTEuMQLPAAABogxpeHo="


def record(path: Path, ops: int) -> float:
    rec = Recorder(path)
    t = time.perf_counter()
    for i in range(ops // 2):
        inv = rec.invoke(i % 10, "add", "cart-3", i)
        rec.complete(inv, OpType.OK, put=f"p{i % 10}-{i}", parents=[f"p1-{i - 1}"],
                     context=CTX, node="n2")  # fmt: skip
    rec.close()
    return time.perf_counter() - t


def anchor(path: Path, ops: int) -> float:
    t = time.perf_counter()
    with path.open("w", buffering=1 << 20) as fh:
        for i in range(ops):
            d = {"index": i, "time": i, "process": i % 10, "type": "ok", "f": "add",
                 "key": "cart-3", "value": i, "put": f"p-{i}", "context": CTX}  # fmt: skip
            fh.write(json.dumps(d, separators=(",", ":")))
            fh.write("\n")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ops", type=int, default=200_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        took = record(Path(d) / "h.jsonl", args.ops)
        base = anchor(Path(d) / "a.jsonl", args.ops)
    print(
        f"recorder: {args.ops:,} ops in {took:.2f}s = {args.ops / took:,.0f} ops/s (goal >= 20,000)"
    )
    print(f"anchor (bare json.dumps + write, same run): {args.ops / base:,.0f} ops/s")


if __name__ == "__main__":
    main()
