"""The simulator's faults beyond kill and cut: lost unsynced writes, wiped disks, broken
connections and spare nodes.

Functions on a `Simulator` (node/sim/cluster.py), which calls `lossy_fates` for
every message sent while a link has a lossy fault and `spare_config` to boot a
spare. Each draws nothing from the simulator's rng, so the run stays a
function of the seed; each traces what it did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from node.config import NodeConfig, config_from_dict
from node.protocol import Message, encode_frame
from node.sim.agenda import Refused
from node.storage import MemoryStorage

if TYPE_CHECKING:
    from node.sim.cluster import Simulator


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


def spare_config(sim: Simulator, name: str) -> NodeConfig:
    """A spare's config: only itself as a member, and its seeds' addresses."""
    raw = {"name": name, "listen": sim.addr(name), "data_dir": f"/simulated/{name}",
           "members": [{"name": name, "addr": sim.addr(name)}],
           "seeds": [sim.addr(s) for s in sim.spares[name]], **sim.config.settings}  # fmt: skip
    return config_from_dict(raw, f"<simulator config of spare {name}>")


def lossy_fates(
    sim: Simulator, src: str, boot: int, peer: str, dst: str, msg: Message, fates: list[int]
) -> list[int]:
    """The copies of `msg` (src → dst) that survive the link's lossy fault; schedules the
    sender's `PeerUnreachable(peer)` when its connection breaks (node/sim/lossy.py)."""
    kept, broken_in_ms = sim.lossy.fates(src, dst, sim.now_ms, len(encode_frame(msg)), fates)
    if broken_in_ms is not None:
        sim._trace("broken", src, dst, broken_in_ms)
        sim.agenda.push(max(broken_in_ms, sim.config.refused_ms), Refused(src, boot, peer))
    return kept
