"""The live progress display of a run: elapsed time and phase, ops/s, ok/fail/info, faults.

On a terminal it is a rich Live panel refreshed four times a second; when the
output is not a terminal (CI, a log file) it prints one line every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from rich.console import Console
from rich.live import Live
from rich.table import Table

from harness.engine import Progress


class _Rate:
    """Ops per second over the last refresh interval."""

    def __init__(self) -> None:
        self.last_n, self.last_t, self.value = 0, time.monotonic(), 0.0

    def update(self, n: int) -> float:
        now = time.monotonic()
        if now - self.last_t >= 0.5:
            self.value = (n - self.last_n) / (now - self.last_t)
            self.last_n, self.last_t = n, now
        return self.value


def render(p: Progress, time_limit_s: float, rate: float) -> Table:
    """One small table: the state of the run right now."""
    t = Table.grid(padding=(0, 2))
    elapsed = time.monotonic() - p.started
    faults = ", ".join(p.active_faults.values()) or "none"
    t.add_row("elapsed", f"{elapsed:5.1f}s / {time_limit_s:.0f}s chaos", "phase", p.phase)
    t.add_row("ops/s", f"{rate:7.0f}", "ok/fail/info", f"{p.ok}/{p.fail}/{p.info}")
    t.add_row("faults", faults, "", "")
    return t


def line(p: Progress, rate: float) -> str:
    faults = ", ".join(p.active_faults.values()) or "none"
    return (f"[{time.monotonic() - p.started:6.1f}s] {p.phase}: {rate:.0f} ops/s, "
            f"ok {p.ok} fail {p.fail} info {p.info}; faults: {faults}")  # fmt: skip


@contextlib.asynccontextmanager
async def live_progress(p: Progress, time_limit_s: float, console: Console) -> AsyncIterator[None]:
    """Shows progress while the body runs."""
    rate = _Rate()
    if console.is_terminal:
        with Live(render(p, time_limit_s, 0.0), console=console, refresh_per_second=4) as live:

            async def refresh() -> None:
                while True:
                    live.update(render(p, time_limit_s, rate.update(p.completed)))
                    await asyncio.sleep(0.25)

            task = asyncio.create_task(refresh())
            try:
                yield
            finally:
                task.cancel()
        return

    async def log_lines() -> None:
        while True:
            await asyncio.sleep(5.0)
            console.print(line(p, rate.update(p.completed)), highlight=False)

    task = asyncio.create_task(log_lines())
    try:
        yield
    finally:
        task.cancel()
