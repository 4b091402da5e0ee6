"""What a user must see from `sibyl run` (each run short), and that it cleans up after itself."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from harness.cli import main
from harness.cluster import pid_alive
from harness.runner import Outcome, RunConfig, run_test
from tests.support.stored_runs import ctrl_c_once_recording


def run(tmp: Path, **kw: object) -> Outcome:
    cfg = RunConfig(store=str(tmp / "store"), quiesce_s=2.0, seed=1234, **kw)  # type: ignore[arg-type]
    out = io.StringIO()
    outcome = run_test(cfg, "sibyl run (test)", Console(file=out, width=200))
    print(out.getvalue())
    return outcome


def anomalies(o: Outcome, checker: str) -> list[dict]:
    return o.doc["checkers"][checker]["anomalies"]


def test_correct_node_under_partitions_kills_and_pauses_is_valid(tmp_path: Path) -> None:
    o = run(tmp_path, time_limit_s=10.0, nemesis=("partition", "kill", "pause"))
    assert o.status == 0, o.doc
    assert o.doc["checkers"]["lost_adds"]["stats"]["status_counts"].get("lost", 0) == 0
    assert o.doc["checkers"]["convergence"]["valid"] is True
    realised = json.loads((o.run_dir / "schedule.json").read_text())["realised"]
    assert realised, "no fault was applied"
    for name in ("history.jsonl", "results.json", "junit.xml", "report.html", "command.txt"):
        assert (o.run_dir / name).is_file(), name
    assert (o.run_dir.parent.parent / "latest").resolve() == o.run_dir.resolve()


def test_lww_under_clock_skew_loses_adds_and_explains_them(tmp_path: Path) -> None:
    o = run(tmp_path, time_limit_s=8.0, conflict="lww", nemesis=("clock",))
    assert o.status == 1
    lost = [a for a in anomalies(o, "lost_adds") if a["kind"] == "lost"]
    assert lost
    first = lost[0]
    assert first["key"] and first["ops"] and first["nodes"]
    assert "first_missing" in first["details"] and "missing_in_final" in first["details"]


def test_sloppy_register_under_partitions_is_not_linearizable(tmp_path: Path) -> None:
    o = run(tmp_path, time_limit_s=8.0, workload="register", nemesis=("partition",))
    assert o.status == 1
    assert o.doc["checkers"]["linearizable"]["valid"] is False
    # sibyl replay reruns the same configuration with the same realised fault schedule.
    original = json.loads((o.run_dir / "schedule.json").read_text())
    main(["replay", str(o.run_dir), "--store", str(tmp_path / "replayed")])
    (again,) = (tmp_path / "replayed").glob("register-*/2*/schedule.json")
    replayed = json.loads(again.read_text())
    assert [f["id"] for f in replayed["planned"]] == [f["id"] for f in original["realised"]]
    assert replayed["planned"][0]["params"] == original["realised"][0]["params"]
    config = json.loads((again.parent / "config.json").read_text())
    assert config["seed"] == 1234 and config["workload"] == "register"


def test_strict_register_is_linearizable(tmp_path: Path) -> None:
    o = run(tmp_path, time_limit_s=8.0, workload="register", mode="strict", nemesis=("partition",))
    assert o.status == 0, o.doc["checkers"]


def test_planted_bug_is_detected(tmp_path: Path) -> None:
    o = run(
        tmp_path, time_limit_s=5.0, nemesis=(), intercepts=("tests.intercepts.sync_overwrites",)
    )
    assert o.status == 1
    assert o.doc["checkers"]["lost_adds"]["valid"] is False


def test_ctrl_c_heals_stops_everything_and_says_so(tmp_path: Path) -> None:
    store = tmp_path / "store"
    cmd = [sys.executable, "-m", "harness.cli", "run", "--time-limit", "60", "--seed", "5",
           "--nemesis", "partition,pause", "--store", str(store)]  # fmt: skip
    status, history = ctrl_c_once_recording(
        cmd, store, 2000, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    run_dir = history.parent
    assert status == 255
    results = json.loads((run_dir / "results.json").read_text())
    assert results["crashed"] is True and "interrupted" in results["error"]
    cluster = json.loads((run_dir / "nodes" / "cluster.json").read_text())
    pids = [n["pid"] for n in cluster["nodes"] if n["pid"]]
    assert not [p for p in pids if pid_alive(p)], "node processes left running"


@pytest.fixture(autouse=True)
def _in_repo_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", os.getcwd())
