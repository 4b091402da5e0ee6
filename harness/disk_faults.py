"""Durability faults: crash (lose what was not fsync'd) and wipe (lose everything).

* crash: `kill -9` the targets, then make each target's LazyFS (harness/lazyfs.py)
  drop every write the node had not fsync'd, as a power cut would. Verified:
  the node is silent, its filesystem reports no unsynced bytes and one more
  crash than before. Stopping the fault restarts the node (as for kill).
* wipe: `kill -9` the targets and delete their data directories. Verified: the
  directory is empty. The node restarts with a fresh incarnation at the stop.

Both are started by `Nemesis.start` and recorded like every other fault; the
realised targets make them replayable. Nodes are restarted by `Nemesis.stop`
and, failing that, by `heal_all` (they are in `nemesis.killed`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.faults import Fault, FaultError
from harness.lazyfs_control import LazyMount

if TYPE_CHECKING:
    from harness.nemesis import Nemesis

Details = dict[str, Any]


class DiskFaultError(RuntimeError):
    """A durability fault that did not take effect; the message says which node."""


async def start_crash(nemesis: Nemesis, fault: Fault) -> Details:
    """kill -9 + drop unsynced data on every target; verified (see the module doc)."""
    disks: dict[str, LazyMount] = nemesis.disks
    missing = [n for n in fault.targets if n not in disks]
    if missing:
        raise FaultError(f"fault {fault.id}: crash needs the data of {missing} on LazyFS; "
                         "the lab mounts it when the schedule has crash faults")  # fmt: skip
    before = {n: (await asyncio.to_thread(disks[n].status))["crashes"] for n in fault.targets}
    details = await nemesis.start_kill(fault)
    dropped: dict[str, int] = {}
    for name in fault.targets:
        after = await asyncio.to_thread(disks[name].crash)
        if after["unsynced_bytes"] != 0 or after["crashes"] != before[name] + 1:
            raise DiskFaultError(f"fault {fault.id}: {name}'s LazyFS did not crash: {after}")
        dropped[name] = int(after["dropped_bytes"])
    return {**details, "dropped_bytes": dropped}


async def start_wipe(nemesis: Nemesis, fault: Fault) -> Details:
    """kill -9 + delete the data directory of every target; verified empty."""
    details = await nemesis.start_kill(fault)
    disks: dict[str, LazyMount] = nemesis.disks
    for name in fault.targets:
        data = nemesis.cluster.node_dir(name) / "data"
        if name in disks:  # what the dead node left unsynced goes too
            await asyncio.to_thread(disks[name].crash)
        await asyncio.to_thread(nemesis.cluster.wipe, name)
        left = _contents(data)
        if left:
            raise DiskFaultError(f"fault {fault.id}: {name}'s data survived the wipe: {left}")
    return {**details, "wiped": sorted(fault.targets)}


def _contents(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir()) if d.is_dir() else []
