"""The netns lab: one network namespace per host, each with its own sshd, on a private bridge.

`up(dir, nodes)` creates (root only):
* `sibyl-ctl`: the controller's namespace. It holds the bridge `br0`
  (10.77.0.1/24) and one veth end per host; the harness re-executes itself here.
* `sibyl-n1 .. sibyl-nN`: one namespace per host, with `eth0` = 10.77.0.(10+i)/24
  (the other end of its veth) and loopback, and an sshd listening on eth0:22 with
  a generated host key, accepting only a generated client key.
* `DIR/inventory.toml` (what `sibyl run --lab netns` reads) and `DIR/lab.json`
  (what `down` removes).

No lab namespace has a default route and nothing is created in the machine's own
namespace, so a lab packet cannot leave the machine: an address outside the
lab's /24 fails with "network unreachable" and sends nothing.

`down(dir)` kills the processes that run in the lab's namespaces (sshd, nodes),
by pid, then deletes the namespaces, which takes their veths, bridge and iptables
rules with them. It is idempotent, and it deletes only what `lab.json` names.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

from harness.inventory import HostSpec, Inventory, to_toml
from harness.shm import remove_shm
from harness.sshd import SshdSpec, stop_pid

SUBNET = "10.77.0"
BRIDGE = "br0"


class LabError(RuntimeError):
    """A lab that cannot be brought up or down; the message says why and what to do."""


@dataclass(frozen=True)
class NetnsLab:
    """What `up` created: the namespaces, the hosts' addresses, and the sshd pids."""

    dir: str
    prefix: str
    hosts: list[str]
    sshd_pids: list[int]

    @property
    def ctl(self) -> str:
        return f"{self.prefix}-ctl"

    def namespaces(self) -> list[str]:
        return [self.ctl, *(f"{self.prefix}-{h}" for h in self.hosts)]


def address(i: int) -> str:
    """The address of host number `i` (1-based)."""
    return f"{SUBNET}.{10 + i}"


def ip(*args: str, netns: str | None = None) -> None:
    """Runs one `ip` command (in `netns` when given); raises LabError with its stderr."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")


def existing_namespaces() -> set[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=30)
    return {line.split()[0] for line in done.stdout.splitlines() if line.strip()}


def up(dir: Path, nodes: int, prefix: str = "sibyl") -> Inventory:
    """Creates the lab (see the module docstring); on any failure removes what it made."""
    if os.geteuid() != 0:
        raise LabError("the netns lab needs root (network namespaces, sshd on port 22)")
    if not 1 <= nodes <= 200:
        raise LabError(f"--nodes must be 1-200 for the netns lab, got {nodes}")
    ctl = f"{prefix}-ctl"
    if ctl in existing_namespaces():
        raise LabError(
            f"namespace {ctl} exists already: another lab is up. Take it down "
            "with `sibyl lab down --dir ITS_DIR` (or `ip netns del` it) first"
        )
    dir = dir.resolve()
    dir.mkdir(parents=True, exist_ok=True)
    hosts = [f"n{i}" for i in range(1, nodes + 1)]
    lab = NetnsLab(str(dir), prefix, hosts, [])
    _save(lab)  # before creating anything, so that `down` finds what a failed `up` made
    try:
        _bridge(ctl)
        for i, name in enumerate(hosts, 1):
            _host_netns(prefix, name, i)
        pids = [_sshd(dir, prefix, name, i).start() for i, name in enumerate(hosts, 1)]
    except BaseException:
        down(dir)
        raise
    lab = NetnsLab(str(dir), prefix, hosts, pids)
    _save(lab)
    inv = _inventory(lab)
    (dir / "inventory.toml").write_text(to_toml(inv))
    return inv


def _bridge(ctl: str) -> None:
    ip("netns", "add", ctl)
    ip("link", "set", "lo", "up", netns=ctl)
    ip("link", "add", BRIDGE, "type", "bridge", netns=ctl)
    ip("addr", "add", f"{SUBNET}.1/24", "dev", BRIDGE, netns=ctl)
    ip("link", "set", BRIDGE, "up", netns=ctl)


def _host_netns(prefix: str, name: str, i: int) -> None:
    ns, ctl = f"{prefix}-{name}", f"{prefix}-ctl"
    ip("netns", "add", ns)
    ip("link", "set", "lo", "up", netns=ns)
    # both veth ends are created inside the lab's namespaces: nothing in the host's own
    ip("link", "add", f"v{name}", "type", "veth", "peer", "name", "eth0", "netns", ns, netns=ctl)
    ip("link", "set", f"v{name}", "master", BRIDGE, "up", netns=ctl)
    ip("addr", "add", f"{address(i)}/24", "dev", "eth0", netns=ns)
    ip("link", "set", "eth0", "up", netns=ns)


def _sshd(dir: Path, prefix: str, name: str, i: int) -> SshdSpec:
    spec = SshdSpec(dir / "hosts" / name / "sshd", address(i), 22, f"{prefix}-{name}")
    spec.prepare(dir / "id_ed25519")
    with open(dir / "known_hosts", "a") as f:
        f.write(spec.known_hosts_line())
    return spec


def _inventory(lab: NetnsLab) -> Inventory:
    dir = Path(lab.dir)
    hosts = tuple(
        HostSpec(name, address(i), key=str(dir / "id_ed25519"),
                 known_hosts=str(dir / "known_hosts"), dir=str(dir / "hosts" / name))
        for i, name in enumerate(lab.hosts, 1)
    )  # fmt: skip
    return Inventory(dir / "inventory.toml", "netns", hosts, lab.ctl)


def down(dir: Path) -> list[str]:
    """Removes what `up` made in `dir` (idempotent); returns the namespaces deleted."""
    state = Path(dir).resolve() / "lab.json"
    if not state.is_file():
        return []
    raw = json.loads(state.read_text())
    if "prefix" not in raw:
        return []  # another kind of lab (vagrant) lives in this directory
    lab = NetnsLab(**raw)
    for pid in lab.sshd_pids:
        stop_pid(pid, "sshd")
    present = existing_namespaces()
    deleted = []
    for ns in reversed(lab.namespaces()):
        if ns not in present:
            continue
        _kill_inside(ns)
        ip("netns", "del", ns)
        deleted.append(ns)
    state.unlink()
    return deleted


def _kill_inside(ns: str) -> None:
    """SIGKILLs every process running in namespace `ns` (the lab's nodes and sshd) and,
    once each is gone, deletes the libfaketime files a node leaves in /dev/shm (the
    namespaces share this machine's /dev/shm)."""
    from harness.remote import LocalRemote

    done = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, timeout=30)
    pids = [int(p) for p in done.stdout.split() if p.isdigit()]
    here = LocalRemote(ns)
    for pid in pids:
        if here.kill(pid, 5.0):
            remove_shm(pid)


def _save(lab: NetnsLab) -> None:
    path = Path(lab.dir) / "lab.json"
    path.write_text(json.dumps(asdict(lab), indent=2))


def current_netns_is(name: str) -> bool:
    """True when this process runs in network namespace `name`."""
    try:
        return os.stat(f"/run/netns/{name}").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        return False
