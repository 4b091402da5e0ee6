"""The vagrant lab without VMs: inventory from recorded ssh-config, shellcheck, vagrant validate."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.inventory import load_inventory, to_toml
from harness.vagrant_lab import inventory_from_ssh_configs, vagrant_dir

RECORDED = Path(__file__).resolve().parents[1] / "support" / "vagrant"


def test_inventory_from_recorded_ssh_config(tmp_path: Path) -> None:
    configs = {f"n{i}": (RECORDED / f"ssh-config-n{i}.txt").read_text() for i in (2, 1)}
    inv = inventory_from_ssh_configs(configs, tmp_path)
    assert [(h.name, h.address, h.port, h.user) for h in inv.hosts] == [
        ("n1", "192.168.56.11", 22, "vagrant"),
        ("n2", "192.168.56.12", 22, "vagrant"),
    ]
    assert inv.hosts[0].key == "/home/alice/lab/.vagrant/machines/n1/virtualbox/private_key"
    assert all(h.accept_new_host_key and h.dir == "/var/lib/sibyl" for h in inv.hosts)
    assert inv.kind == "vagrant" and inv.controller_netns == ""
    (tmp_path / "inventory.toml").write_text(to_toml(inv))
    assert load_inventory(tmp_path / "inventory.toml") == inv


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.geteuid() == 0:
            pytest.fail(f"{name} is missing: `make deps` installs it (Makefile DEB_PACKAGES)")
        pytest.skip(f"{name} is not installed (make deps installs it as root)")
    return path


def test_provision_script_passes_shellcheck() -> None:
    done = subprocess.run([_tool("shellcheck"), str(vagrant_dir() / "provision.sh")],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout


@pytest.mark.timeout(120)
def test_vagrantfile_validates(tmp_path: Path) -> None:
    vagrant = _tool("vagrant")
    shutil.copytree(vagrant_dir(), tmp_path / "lab")
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / "home"), "VAGRANT_CHECKPOINT_DISABLE": "1"}
    ok = subprocess.run([vagrant, "validate"], cwd=tmp_path / "lab", capture_output=True,
                        text=True, timeout=90, env={**env, "SIBYL_NODES": "3"})  # fmt: skip
    assert ok.returncode == 0 and "validated successfully" in ok.stdout, ok.stdout + ok.stderr
    bad = subprocess.run([vagrant, "validate"], cwd=tmp_path / "lab", capture_output=True,
                         text=True, timeout=90, env={**env, "SIBYL_NODES": "0"})  # fmt: skip
    assert bad.returncode != 0 and "SIBYL_NODES must be 1..200" in bad.stdout + bad.stderr
