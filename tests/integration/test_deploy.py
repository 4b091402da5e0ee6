"""Deploy over a Remote (LocalRemote: this machine is the host): install, skip, refuse clearly."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.deploy import NEEDED_MB, deploy_all
from harness.inventory import HostSpec
from harness.remote import LocalRemote, RemoteError

pytestmark = pytest.mark.timeout(240)


def host(name: str, dir: Path, **kw: object) -> HostSpec:
    return HostSpec(name, "127.0.0.1", dir=str(dir), **kw)  # type: ignore[arg-type]


def test_deploy_installs_a_runnable_node_from_the_wheelhouse(tmp_path: Path) -> None:
    spec = host("h1", tmp_path / "h1")
    remote = LocalRemote("h1")
    art = deploy_all([remote], [spec])
    python = tmp_path / "h1" / "venv" / "bin" / "python"
    code = "import node.server, msgpack, uvloop, harness.probe; print('ok')"
    assert subprocess.run([python, "-c", code], capture_output=True, text=True,
                          check=True).stdout == "ok\n"  # fmt: skip
    wheels = sorted(p.name for p in (tmp_path / "h1" / "wheels").iterdir())
    house = next(iter(art.wheelhouses.values()))
    assert wheels == sorted([art.wheel.name, *(w.name for w in house)])
    marker = tmp_path / "h1" / "venv" / ".sibyl-deployed"
    assert marker.read_text().strip() == art.digest
    before = marker.stat().st_mtime_ns
    deploy_all([remote], [spec])  # the same build again: skipped
    assert marker.stat().st_mtime_ns == before


def test_missing_python_names_the_host_and_the_fix(tmp_path: Path) -> None:
    spec = host("h1", tmp_path / "h1", python="/nonexistent/python3")
    with pytest.raises(RemoteError, match=r"host h1: /nonexistent/python3 with venv is missing.*"
                       r"apt-get install python3-venv"):  # fmt: skip
        deploy_all([LocalRemote("h1")], [spec])


def test_a_failed_deploy_removes_what_it_installed(tmp_path: Path) -> None:
    # h2's Python passes the preflight but cannot make a venv (as on a broken host)
    broken = tmp_path / "broken-python3"
    broken.write_text('#!/bin/sh\ncase "$*" in *"-m venv"*) echo "venv: broken" >&2; exit 1;; '
                      'esac\nexec python3 "$@"\n')  # fmt: skip
    broken.chmod(0o755)
    specs = [host("h1", tmp_path / "h1"), host("h2", tmp_path / "h2", python=str(broken))]
    with pytest.raises(RemoteError, match="host h2: creating the venv .*venv: broken"):
        deploy_all([LocalRemote("h1"), LocalRemote("h2")], specs, parallel=2)
    for name in ("h1", "h2"):
        assert not (tmp_path / name / "venv").exists()
        assert not (tmp_path / name / "wheels").exists()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs mount, which needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "sibyl-test", str(mount)],
                   check=True)  # fmt: skip
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_names_the_host_and_the_fix(small_disk: Path) -> None:
    spec = host("h1", small_disk / "sibyl")
    with pytest.raises(RemoteError, match=rf"host h1: the disk holding {small_disk}/sibyl is full "
                       rf"\(\d+ MB free, a deploy needs {NEEDED_MB} MB\)"):  # fmt: skip
        deploy_all([LocalRemote("h1")], [spec])
    assert not (small_disk / "sibyl" / "venv").exists()


def test_a_remote_cluster_starts_from_an_empty_node_directory(tmp_path: Path) -> None:
    """A second run on the same hosts must not read the first run's data."""
    from harness.hostcluster import RemoteCluster

    spec = host("n1", tmp_path / "h1")
    stale = tmp_path / "h1" / "node" / "data" / "objects.db"
    stale.parent.mkdir(parents=True)
    stale.write_text("an earlier run")
    cluster = RemoteCluster.on_hosts(tmp_path / "run", [spec], [LocalRemote("n1")], n=1, r=1, w=1)
    assert not stale.exists()
    config = (tmp_path / "h1" / "node" / "node.toml").read_text()
    assert 'listen = "127.0.0.1:7000"' in config and 'name = "n1"' in config
    assert cluster.addr("n1") == ("127.0.0.1", 7000)
