"""A lab on remote hosts (netns, vagrant, ssh): connect, deploy, start, and take it all down.

`start_remote_lab` connects to every inventory host (SSH, in parallel), deploys
the node (harness/deploy.py), lays out a `RemoteCluster`, installs the iptables
fault network and libfaketime clocks when the run has faults, starts the nodes
and waits until they answer. If any step fails, everything it started is
stopped and every connection closed before the error propagates, so nothing is
left half-deployed.
"""

from __future__ import annotations

import random
import shlex
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from harness.clock import LIBRARY_DIRS, LIBRARY_NAME, ClockControl, ClockUnavailable
from harness.deploy import deploy_all
from harness.hostcluster import RemoteCluster
from harness.inventory import Inventory
from harness.iptables import IptablesNet
from harness.lab import Lab
from harness.remote import Remote, RemoteError
from harness.ssh import SSHRemote


def connect_all(inv: Inventory) -> list[Remote]:
    """One SSHRemote per host, connected in parallel; on any failure the others are
    closed and the first error (a RemoteError naming the host) is raised."""
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(SSHRemote, h) for h in inv.hosts]
    errors = [f.exception() for f in futures]
    if any(errors):
        for f, e in zip(futures, errors):
            if e is None:
                f.result().close()
        raise next(e for e in errors if e is not None)
    return [f.result() for f in futures]


def controller_address(remote: Remote) -> str:
    """The controller's address as `remote`'s host sees it (the SSH connection's source)."""
    if isinstance(remote, SSHRemote):
        transport = remote.client.get_transport()
        if transport is not None:
            return str(transport.sock.getsockname()[0])
    return "127.0.0.1"


def find_remote_libfaketime(remote: Remote) -> Path:
    """libfaketime's path on the host; ClockUnavailable naming the host when missing."""
    paths = " ".join(shlex.quote(f"{d}/{LIBRARY_NAME}") for d in LIBRARY_DIRS)
    found = remote.run(f"for p in {paths}; do [ -f $p ] && echo $p && break; done").stdout
    if not found.strip():
        raise ClockUnavailable(f"host {remote.name}: clock faults need libfaketime there; "
                               "install it on the host (apt-get install faketime)")  # fmt: skip
    return Path(found.split()[0])


async def start_remote_lab(
    inv: Inventory, dir: Path, settings: Mapping[str, Any], kinds: Sequence[str], seed: int,
    env: Mapping[str, str] | None = None, parallel: int = 8,
) -> Lab:  # fmt: skip
    """Brings the nodes up on the inventory's hosts (see the module docstring)."""
    from harness.nemesis import Nemesis

    remotes = connect_all(inv)
    lab: Lab | None = None
    try:
        deploy_all(remotes, list(inv.hosts), parallel)
        cluster = RemoteCluster.on_hosts(dir, list(inv.hosts), remotes, **settings)
        cluster.env.update(env or {})
        lab = Lab(cluster)
        if kinds:
            lab.mesh = IptablesNet.create(cluster, controller_address(remotes[0]))
            if "latency" in kinds:
                _require_netem(lab.mesh)
            if "clock" in kinds:
                lab.clock = ClockControl(cluster, library=find_remote_libfaketime(remotes[0]))
            rng = random.Random(f"{seed}/nemesis")
            lab.nemesis = Nemesis(cluster, lab.mesh, lab.clock, rng)
        cluster.start_all()
        if lab.clock is not None:
            lab.clock.track()
        await cluster.wait_ready()
    except BaseException:
        if lab is not None:
            await lab.stop()
        close_all(remotes)
        raise
    return lab


def _require_netem(net: IptablesNet) -> None:
    for name in sorted(net.cluster.nodes):
        if not net.netem_available(name):
            raise RemoteError(f"host {name}: its kernel has no netem (sch_netem), so latency "
                              "faults cannot run there; load the module (modprobe sch_netem), "
                              "or leave latency out of --nemesis")  # fmt: skip


def close_all(remotes: Sequence[Remote]) -> None:
    for r in remotes:
        r.close()
