"""The debug API serves what the harness must not model itself: preference lists, and
`sibyl kv` refuses a malformed --node by name."""

from __future__ import annotations

import pytest

from harness.cli import main
from node.messages import PreferenceLists
from node.sim.cluster import SimConfig, Simulator


def test_preference_lists_come_from_the_nodes_own_ring() -> None:
    sim = Simulator(4, SimConfig(nodes=5))
    keys = [f"k{i}" for i in range(50)]
    reply = sim.call("n2", PreferenceLists(keys).wire())
    assert reply["t"] == "ok" and reply["node"] == "n2"
    assert reply["lists"] == {k: sim.primaries(k) for k in keys}
    too_many = sim.call("n2", PreferenceLists(["k"] * 5000).wire())
    assert too_many["t"] == "error" and too_many["code"] == "too_large"


def test_kv_refuses_a_malformed_node_address(capsys: pytest.CaptureFixture[str]) -> None:
    # Not 0; the status for bad arguments is the CLI's to choose (main maps it to 254).
    assert main(["kv", "--node", "nohost", "get", "k"]) != 0
    assert '--node: expected "host:port"' in capsys.readouterr().err
