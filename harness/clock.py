"""Per-node clock skew with libfaketime: bump, strobe, reset while the node runs.

Each node process is started with libfaketime preloaded and its own timestamp
file (`DIR/<name>/faketime`), which holds the node's offset from real time in
seconds ("+5.000000"). With `FAKETIME_NO_CACHE=1` the library re-reads the file
on every clock call, so writing the file changes the node's wall clock at once.
`FAKETIME` itself stays unset (it would override the file), and
`FAKETIME_DONT_FAKE_MONOTONIC=1` keeps the monotonic clock real (faking it makes
monotonic time jump and hangs timed waits). Only the wall clock moves: the
node's timers and the controller's deadlines are unaffected.

Invariant: `offset_s(name)` is what the node's file says; the file is replaced
atomically (write, then rename), so a node never reads a half-written offset.

libfaketime leaves `/dev/shm/faketime_shm_<pid>` and `/dev/shm/sem.faketime_sem_<pid>`
behind even on a clean exit, and a stale pair makes a later process with the
same pid fail: `remove_shm(pid)` deletes them once that process is gone, and
`cleanup()` does so for every pid this control has been told about.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from harness.cluster import LocalCluster
from node.client import Client

LIBRARY_NAME = "libfaketime.so.1"
LIBRARY_DIRS = (
    "/usr/lib/x86_64-linux-gnu/faketime",
    "/usr/lib/aarch64-linux-gnu/faketime",
    "/usr/lib/faketime",
    "/usr/local/lib/faketime",
    "/usr/lib64/faketime",
)
INSTALL_HINT = "install it with `apt-get install faketime` (the Makefile does so as root)"


class ClockUnavailable(RuntimeError):
    """libfaketime is not installed, so clock faults cannot run."""


def find_libfaketime() -> Path | None:
    """The path of libfaketime.so.1: the usual library directories first, then what
    `dpkg -L libfaketime` lists; None when it is not installed."""
    for d in LIBRARY_DIRS:
        candidate = Path(d) / LIBRARY_NAME
        if candidate.is_file():
            return candidate
    try:
        listed = subprocess.run(
            ["dpkg", "-L", "libfaketime"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in listed.splitlines():
        if line.endswith("/" + LIBRARY_NAME) and Path(line).is_file():
            return Path(line)
    return None


def require_libfaketime() -> Path:
    """The library path; raises ClockUnavailable saying how to install it."""
    path = find_libfaketime()
    if path is None:
        raise ClockUnavailable(
            f"clock faults need libfaketime, which is not installed; {INSTALL_HINT}"
        )
    return path


def format_offset(offset_s: float) -> str:
    """The timestamp-file text for an offset from real time: "+5.000000 x1". The rate
    is spelled out because libfaketime keeps the last rate it read (harness/clock_rate.py
    sets others) until a spec names a new one."""
    return f"{offset_s:+.6f} x1\n"


@dataclass
class ClockControl:
    """Skews the wall clocks of a cluster's nodes, one timestamp file each, written on
    each node's host (so a `RemoteCluster` works too; pass its hosts' `library`).

    Construct it before the nodes start: construction finds libfaketime (raising
    ClockUnavailable with the install hint when it is missing) and `install()`s:
    it writes each node's file (offset 0) and puts the preload environment in
    `cluster.node_env`, so every start of a node, restarts included, reads it."""

    cluster: LocalCluster
    library: Path | None = None  # default: find_libfaketime()
    offsets: dict[str, float] = field(default_factory=dict)
    pids: set[int] = field(default_factory=set)
    strobes: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.library is None:
            self.library = require_libfaketime()
        self.install()

    @classmethod
    def create(cls, cluster: LocalCluster) -> ClockControl:
        """The same as `ClockControl(cluster)`."""
        return cls(cluster)

    def file_of(self, name: str) -> Path:
        return self.cluster.node_dir(name) / "faketime"

    def env_for(self, name: str) -> dict[str, str]:
        """The environment that makes node `name` read its clock offset from its file."""
        return {
            "LD_PRELOAD": str(self.library),
            "FAKETIME_TIMESTAMP_FILE": str(self.file_of(name)),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        }

    def install(self) -> None:
        """Writes offset 0 for every node and records each node's preload environment
        in the cluster (saved with it). Idempotent; done by the constructor."""
        for name in self.cluster.nodes:
            self.set_offset(name, 0.0)
            self.cluster.node_env.setdefault(name, {}).update(self.env_for(name))
        self.cluster.save()

    # --- skew ---------------------------------------------------------------

    def set_offset(self, name: str, offset_s: float) -> None:
        """Makes node `name`'s wall clock read real time + `offset_s` from now on."""
        if name not in self.cluster.nodes:
            raise KeyError(f"no node named {name!r} (known: {sorted(self.cluster.nodes)})")
        self.cluster.write_host_file(name, self.file_of(name), format_offset(offset_s))
        self.offsets[name] = offset_s

    def offset_s(self, name: str) -> float:
        return self.offsets.get(name, 0.0)

    def bump(self, name: str, delta_s: float) -> float:
        """Moves node `name`'s clock by `delta_s` (±) relative to its current offset;
        returns the new offset."""
        self.stop_strobe(name)
        self.set_offset(name, self.offset_s(name) + delta_s)
        return self.offset_s(name)

    def reset(self, names: Iterable[str] | None = None) -> None:
        """Stops any strobe and puts the named nodes (default all) back on real time."""
        for name in list(names) if names is not None else list(self.cluster.nodes):
            self.stop_strobe(name)
            self.set_offset(name, 0.0)

    def start_strobe(
        self, name: str, offsets_s: tuple[float, float], period_s: float, duration_s: float
    ) -> None:
        """Starts flipping node `name`'s offset between the two values every `period_s`
        for `duration_s` (an asyncio task on the running loop); the first value is
        in place when this returns. The strobe ends at the first of its duration, a
        `stop_strobe`, or a `bump`/`reset` of that node, leaving the offset where
        it was at that moment."""
        if period_s <= 0 or duration_s < 0:
            raise ValueError(
                f"strobe needs period_s > 0 and duration_s >= 0, got {period_s}, {duration_s}"
            )
        self.stop_strobe(name)
        self.set_offset(name, offsets_s[0])
        task = asyncio.get_running_loop().create_task(
            self._strobe(name, offsets_s, period_s, duration_s), name=f"strobe-{name}"
        )
        self.strobes[name] = task

    async def _strobe(
        self, name: str, offsets_s: tuple[float, float], period_s: float, duration_s: float
    ) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + duration_s
        flip = 1
        while loop.time() + period_s <= end:
            await asyncio.sleep(period_s)  # the strobe's own period, not synchronisation
            self.set_offset(name, offsets_s[flip])
            flip = 1 - flip
        self.strobes.pop(name, None)

    def stop_strobe(self, name: str) -> None:
        """Ends node `name`'s strobe, if any (the offset stays where it is)."""
        task = self.strobes.pop(name, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # --- shared memory left behind -------------------------------------------

    def track(self) -> None:
        """Remembers the pids of the cluster's running nodes, for `cleanup`."""
        self.pids.update(p.pid for p in self.cluster.nodes.values() if p.pid is not None)

    def cleanup(self) -> list[int]:
        """Deletes the shared-memory files of every tracked pid that is gone and
        forgets it; returns the pids still running (their files are kept)."""
        self.track()
        left = [pid for pid in sorted(self.pids) if not self.cluster.release_shm(pid)]
        self.pids = set(left)
        return left


async def measure_offset_s(host: str, port: int, timeout_s: float = 2.0) -> float:
    """How far the node at host:port's wall clock (its `status()["wall_ms"]`) is
    ahead of the controller's `time.time()`, in seconds: the node's reading minus
    the midpoint of the request. Raises OSError/TimeoutError when it does not answer."""
    client = await Client.connect(host, port, timeout_s=timeout_s, name="nemesis-clock")
    try:
        before = time.time()
        status = await client.status()
        after = time.time()
    finally:
        await client.close()
    return float(status["wall_ms"]) / 1000 - (before + after) / 2
