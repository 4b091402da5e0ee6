"""How long the local lab's host operations take: start, kill, pause, partition, clock, stop.

It brings up a 5-node local lab with every fault kind, then applies and reverts
each fault `--rounds` times through the nemesis (which verifies each one), and
stops the lab. It prints the median seconds per step. It uses only APIs that
existed before the `Remote` seam, so running it with PYTHONPATH pointing at an
older checkout gives the "before" figure for the same machine and session:

    .venv/bin/python benchmarks/local_lab_ops.py
    PYTHONPATH=/tmp/old .venv/bin/python benchmarks/local_lab_ops.py
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from harness.faults import Fault
from harness.lab import Lab

SETTINGS = {"n": 3, "r": 2, "w": 2, "request_timeout_ms": 1000, "probe_interval_ms": 250}
FAULTS = {
    "kill+restart": ("kill", {}),
    "pause+resume": ("pause", {}),
    "partition halves": ("partition", {"shape": "halves"}),
    "clock bump+reset": ("clock", {"delta_s": 5.0}),
}


async def main(rounds: int) -> None:
    import harness

    print(f"harness from {Path(harness.__file__).parent}")
    timings: dict[str, list[float]] = {name: [] for name in ("lab start", *FAULTS, "lab stop")}
    with tempfile.TemporaryDirectory(prefix="sibyl-bench-") as tmp:
        t = time.monotonic()
        lab = await Lab.start(Path(tmp), 5, SETTINGS, ("clock", "kill", "partition", "pause"), 1)
        timings["lab start"].append(time.monotonic() - t)
        try:
            fid = 0
            for _ in range(rounds):
                for name, (kind, params) in FAULTS.items():
                    fid += 1
                    fault = Fault(fid, kind, 0.0, 1.0, ("n2",) if kind != "partition" else (),
                                  params)  # fmt: skip
                    t = time.monotonic()
                    await lab.nemesis.start(fault)
                    await lab.nemesis.stop(fault)
                    timings[name].append(time.monotonic() - t)
        finally:
            t = time.monotonic()
            await lab.stop()
            timings["lab stop"].append(time.monotonic() - t)
    for name, values in timings.items():
        print(f"{name:18s} median {statistics.median(values):6.3f} s  (n={len(values)})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
