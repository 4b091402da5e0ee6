"""The vagrant lab: `vagrant up` N Debian VMs from vagrant/Vagrantfile and write their inventory.

`up(dir, nodes)` copies the repository's `vagrant/` folder to `dir` (so each lab
has its own `.vagrant` state), runs `vagrant up` with `SIBYL_NODES=nodes`, and
writes `dir/inventory.toml` from `vagrant ssh-config` of each VM, parsed with
python-vagrant: the user and key come from ssh-config, the address is the VM's
private-network address (192.168.56.(10+i), where the nodes talk to each other
and the controller reaches them), and the host key is recorded on first use
(`accept_new_host_key`: Vagrant boxes make new host keys on every `up`).
`down(dir)` runs `vagrant destroy -f` there; it is idempotent.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

from harness.inventory import HostSpec, Inventory, to_toml
from harness.netns import LabError

SUBNET = "192.168.56"
HOST_DIR = "/var/lib/sibyl"


def vagrant_dir() -> Path:
    return Path(__file__).resolve().parents[1] / "vagrant"


def address(i: int) -> str:
    """The private-network address the Vagrantfile gives VM number `i` (1-based)."""
    return f"{SUBNET}.{10 + i}"


def host_from_ssh_config(name: str, i: int, ssh_config: str, dir: Path) -> HostSpec:
    """The inventory host for VM `name` (number `i`) from its `vagrant ssh-config` text."""
    import vagrant

    conf = vagrant.Vagrant(root=str(dir), quiet_stdout=True).conf(ssh_config, vm_name=name)
    for field in ("User", "IdentityFile"):
        if field not in conf:
            raise LabError(f"vagrant ssh-config of {name} has no {field}: is the VM up?")
    return HostSpec(name, address(i), 22, conf["User"], conf["IdentityFile"].strip('"'),
                    str(dir / "known_hosts"), True, HOST_DIR)  # fmt: skip


def inventory_from_ssh_configs(configs: dict[str, str], dir: Path) -> Inventory:
    """The lab's inventory from each VM's ssh-config output (VMs named n1..nN)."""
    hosts = tuple(host_from_ssh_config(name, i, configs[name], dir)
                  for i, name in enumerate(sorted(configs, key=_number), 1))  # fmt: skip
    return Inventory(dir / "inventory.toml", "vagrant", hosts)


def _number(name: str) -> int:
    return int(name.lstrip("n")) if name.lstrip("n").isdigit() else 0


def up(dir: Path, nodes: int) -> Inventory:
    """`vagrant up` in a copy of vagrant/ under `dir`; writes and returns the inventory."""
    if shutil.which("vagrant") is None:
        raise LabError("the vagrant lab needs Vagrant and a provider (VirtualBox or libvirt): "
                       "apt-get install vagrant, then see README 'VM lab'")  # fmt: skip
    import vagrant

    dir = dir.resolve()
    dir.mkdir(parents=True, exist_ok=True)
    for name in ("Vagrantfile", "provision.sh"):
        shutil.copyfile(vagrant_dir() / name, dir / name)
    env = {**os.environ, "SIBYL_NODES": str(nodes)}
    (dir / "lab.json").write_text(json.dumps({"kind": "vagrant", "nodes": nodes}))
    v = vagrant.Vagrant(root=str(dir), env=env)
    try:
        v.up()
        configs = {f"n{i}": v.ssh_config(vm_name=f"n{i}") for i in range(1, nodes + 1)}
    except Exception as e:  # noqa: BLE001 - python-vagrant raises CalledProcessError and more
        raise LabError(f"vagrant up in {dir} failed: {e}; see `vagrant status` there, and "
                       f"take it down with `sibyl lab down --dir {dir}`") from None  # fmt: skip
    inv = inventory_from_ssh_configs(configs, dir)
    inv = replace(inv, path=dir / "inventory.toml")
    (dir / "inventory.toml").write_text(to_toml(inv))
    return inv


def down(dir: Path) -> list[str]:
    """`vagrant destroy -f` in a vagrant lab's `dir`; [] when there is none (idempotent)."""
    state = Path(dir).resolve() / "lab.json"
    if not state.is_file() or json.loads(state.read_text()).get("kind") != "vagrant":
        return []
    import vagrant

    nodes = int(json.loads(state.read_text())["nodes"])
    env = {**os.environ, "SIBYL_NODES": str(nodes)}
    try:
        vagrant.Vagrant(root=str(state.parent), env=env).destroy()
    except Exception as e:  # noqa: BLE001 - python-vagrant raises CalledProcessError and more
        raise LabError(f"vagrant destroy in {state.parent} failed: {e}") from None
    state.unlink()
    return [f"vm n{i}" for i in range(1, nodes + 1)]
