"""The simulator's faults beyond kill and cut: lost unsynced writes, wiped disks, broken
connections and spare nodes.

Functions on a `Simulator` (node/sim/cluster.py). Each draws nothing from the
simulator's rng, so the run stays a function of the seed; each traces what it did.
"""

from __future__ import annotations

from node.sim.agenda import Refused
from node.sim.cluster import Simulator
from node.storage import MemoryStorage


def lose_power(sim: Simulator, name: str) -> int:
    """Kills `name` (`Simulator.crash`) and loses every disk change it had not synced, as a
    power cut on a lazy filesystem does (harness/lazyfs.py); returns how many were lost."""
    sim.crash(name)
    lost = sim.disks[name].lose_unsynced()
    sim._trace("lose_unsynced", name, lost)
    return lost


def wipe(sim: Simulator, name: str) -> None:
    """Kills `name` if it runs and deletes its whole disk: it next boots empty."""
    if sim.is_up(name):
        sim.crash(name)
    sim._trace("wipe", name)
    sim.disks[name] = MemoryStorage()


def break_link(sim: Simulator, src: str, dst: str, delay_ms: int = 0) -> None:
    """`src`'s connection to `dst` fails (reset or closed): after `delay_ms`, `src` (if it
    still runs this boot) gets `PeerUnreachable(dst)`."""
    if sim.is_up(src):
        sim._trace("broken", src, dst, delay_ms)
        sim.agenda.push(delay_ms, Refused(src, sim.boots[src], dst))


def add_spare(sim: Simulator, name: str, seeds: tuple[str, ...]) -> None:
    """Lays out a spare node: not running, with an empty disk; its config names only
    itself plus `seeds` (member names), so, booted by `restart`, it joins by gossip.
    Raises ValueError if the name is taken."""
    if name in sim.disks:
        raise ValueError(f"cannot add spare {name}: the name is taken")
    sim.spares[name] = seeds
    sim.disks[name] = MemoryStorage()
    sim.boots[name], sim.skew_ms[name], sim.disk_delay_ms[name] = 0, 0, 0
    sim._disk_free_ms[name] = 0
    sim._by_addr[sim.addr(name)] = name
