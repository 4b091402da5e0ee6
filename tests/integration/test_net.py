"""The Net conformance kit on both fault networks: the Toxiproxy mesh, iptables in a netns lab."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cluster import LocalCluster
from harness.mesh import Mesh
from tests.support.labs import needs_root, netns_lab
from tests.support.net_kit import check_net

pytestmark = pytest.mark.timeout(240)
REPO = Path(__file__).resolve().parents[2]


def test_mesh_conformance(tmp_path: Path) -> None:
    cluster = LocalCluster.create(tmp_path / "cluster", 3)
    mesh = Mesh.create(cluster, seed=1)
    try:
        cluster.start_all()
        asyncio.run(cluster.wait_ready(timeout_s=20))
        asyncio.run(check_net(mesh, sorted(cluster.nodes)))
    finally:
        cluster.stop_all()
        mesh.close()


def test_iptables_conformance_in_a_netns_lab(tmp_path: Path) -> None:
    needs_root("the iptables net")
    from harness.deploy import prebuild_for_local_hosts

    prebuild_for_local_hosts(["python3"])  # the lab's namespace has no network
    with netns_lab(tmp_path / "lab", 3) as inv:
        done = subprocess.run(
            ["ip", "netns", "exec", inv.controller_netns, sys.executable, "-m",
             "tests.support.net_kit", str(inv.path), str(tmp_path / "run")],
            cwd=REPO, capture_output=True, text=True, timeout=200,
        )  # fmt: skip
        print(done.stdout, done.stderr)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "net kit passed on IptablesNet" in done.stdout
