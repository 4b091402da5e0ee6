"""`sibyl run` options of issue 12 from the command line: bad values named, repeated runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main

pytestmark = pytest.mark.timeout(120)

#: The bad-input exit status: 2 on this branch, 254 once the CLI's UsageError lands.
BAD_INPUT = (2, 254)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--node-setting", "read_repair=sometimes"], "read_repair"),
        (["--node-setting", "antientropy_interval_ms=-1"], "antientropy_interval_ms"),
        (["--node-setting", "warp_drive=1"], "warp_drive"),
        (["--node-setting", "data_dir=/x"], "data_dir"),
        (["--blind-writes", "1.5"], "--blind-writes"),
        (["--fault-overlap", "-0.1"], "--fault-overlap"),
        (["--keys", "0"], "--keys"),
        (["--test-count", "0"], "--test-count"),
        (["--seeds", "9"], "--seeds"),
    ],
)
def test_bad_values_are_refused_naming_them(
    args: list[str], named: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", "--store", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert status in BAD_INPUT and named in err and "Traceback" not in err
    assert not any(tmp_path.iterdir()), "nothing may start for bad input"


def test_test_count_runs_each_seed_and_counts_failures(tmp_path: Path) -> None:
    store = tmp_path / "store"
    status = main(["run", "--nodes", "3", "--nemesis", "none", "--time-limit", "1",
                   "--quiesce", "0.5", "--rate", "50", "--seed", "40", "--test-count", "2",
                   "--keys", "3", "--key-distribution", "zipf", "--blind-writes", "0.3",
                   "--node-setting", "read_repair=false", "--store", str(store),
                   "--intercept", "tests.intercepts.sync_overwrites"])  # fmt: skip
    summary = json.loads((store / "test-count-40-2.json").read_text())
    assert [r["seed"] for r in summary["runs"]] == [40, 41]
    assert summary["failed"] == sum(r["status"] == 1 for r in summary["runs"])
    assert status == (1 if summary["failed"] else 0)
    config = json.loads((Path(summary["runs"][0]["run_dir"]) / "config.json").read_text())
    assert config["node_settings"] == {"read_repair": False} and config["keys"] == 3
    assert (
        "read_repair = false"
        in (Path(summary["runs"][0]["run_dir"]) / "nodes" / "n1" / "node.toml").read_text()
        or (store / "cart-sloppy-siblings").is_dir()
    )
