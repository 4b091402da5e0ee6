"""Clock faults beyond an offset: freeze a node's wall clock, or make it run slow or fast.

Both write the node's libfaketime timestamp file (see harness/clock.py), which
the node re-reads on every clock call:

* freeze: an absolute date without "@" ("2026-11-30 01:00:00", local time):
  libfaketime reports that instant, whole seconds, until the file changes.
* rate R: "<offset> xR". libfaketime scales the time elapsed since the
  process's start S, so fake(t) = t + offset + (R - 1)(t - S); the offset
  (T0 - S)(1 - R) makes the clock continue from real time at the fault's start
  T0 with no jump, up to the error in S (read from /proc, ~0.2 s; times R-1).

`ClockControl.reset` (which writes "+0 x1") undoes both. Verification reads the
node's wall clock twice through `status()`: frozen, it does not move; at rate R
it moves R times as fast as the controller's.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.clock import ClockControl, measure_offset_s
from harness.faults import ClockOp, Fault, NemesisError

if TYPE_CHECKING:
    from harness.nemesis import Nemesis

#: How far a measured clock rate may be from the one asked for.
RATE_SLACK = 0.3


def process_start_s(pid: int) -> float:
    """When process `pid` started, as a Unix time (from /proc; clock-tick precision)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    ticks = int(fields[19])
    btime = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                 if line.startswith("btime"))  # fmt: skip
    return btime + ticks / os.sysconf("SC_CLK_TCK")


def _write(clock: ClockControl, name: str, text: str) -> None:
    clock.stop_strobe(name)
    path = clock.file_of(name)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def freeze(clock: ClockControl, name: str) -> None:
    """Stops node `name`'s wall clock at the current (offset) second."""
    at = time.time() + clock.offset_s(name)
    _write(clock, name, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at)) + "\n")


def set_rate(clock: ClockControl, name: str, rate: float, pid: int) -> None:
    """Makes node `name` (process `pid`) run its wall clock `rate` times as fast from now."""
    now = time.time()
    offset = clock.offset_s(name) + (now - process_start_s(pid)) * (1 - rate)
    _write(clock, name, f"{offset:+.6f} x{rate:g}\n")


async def measured_rate(host: str, port: int, span_s: float = 0.5) -> float:
    """How fast the node's wall clock runs against ours over `span_s` (1.0: normal,
    0.0: frozen). Raises OSError/TimeoutError when it does not answer."""
    import asyncio

    t0, a = time.monotonic(), await measure_offset_s(host, port)
    await asyncio.sleep(span_s)  # the measurement's own span, not synchronisation
    t1, b = time.monotonic(), await measure_offset_s(host, port)
    return 1.0 + (b - a) / (t1 - t0)


async def start_pace(nemesis: Nemesis, fault: Fault, op: ClockOp) -> dict[str, Any]:
    """Freezes the targets' clocks or sets their rate, then measures each running
    target's rate; raises NemesisError when one is off by more than RATE_SLACK."""
    clock = nemesis.clock
    assert clock is not None
    want = 0.0 if op is ClockOp.FREEZE else float(fault.params["rate"])
    measured: dict[str, float | None] = {}
    for name in fault.targets:
        pid = nemesis.cluster.nodes[name].pid
        if op is ClockOp.FREEZE:
            freeze(clock, name)
        elif pid is not None:
            set_rate(clock, name, want, pid)
        if not nemesis.running(name):
            measured[name] = None
            continue
        rate = await measured_rate(*nemesis.cluster.addr(name))
        measured[name] = round(rate, 3)
        if abs(rate - want) > RATE_SLACK:
            raise NemesisError(f"fault {fault.id}: {name}'s wall clock runs at {rate:.2f}x, "
                               f"expected {want:g}x ± {RATE_SLACK}")  # fmt: skip
    return {"op": op.value, "rate": measured}
