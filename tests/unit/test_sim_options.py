"""`sibyl sim` takes `sibyl run`'s workload options, writes run's schedule.json shape, reads
node status in liveness mode, and lets faults hit spares that have joined."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checkers.history import CHECKER
from harness.cli import main
from harness.faults import Fault, FaultKind
from harness.generator import schedule_doc
from harness.sim_liveness import ROUNDS
from harness.sim_runner import (
    SimMode,
    SimSchedule,
    SimSpec,
    as_run_config,
    planned_faults,
    simulate,
)
from harness.sim_store import read_schedule, write_run
from harness.status_rounds import COUNTERS
from workloads import streams

SHORT = SimSpec(nodes=3, time_limit_s=4.0, rate=40.0, concurrency=2, quiesce_s=1.0,
                nemesis=())  # fmt: skip


def client_keys(spec: SimSpec, seed: int) -> set[str]:
    history = simulate(spec, SimSchedule(seed, [])).history
    return {op.key for op in history if isinstance(op.process, int) and op.key}


def test_keys_and_blind_writes_shape_the_simulated_workload() -> None:
    assert len(client_keys(SHORT, 1)) > 1
    one = SimSpec(**{**SHORT.__dict__, "keys": 1, "blind_writes": 1.0})
    assert len(client_keys(one, 1)) == 1
    result = simulate(one, SimSchedule(1, []))
    adds = [op for op in result.history if op.f == "add" and op.type.value == "invoke"]
    assert adds and all(op.extra.get("blind") for op in adds), adds[:3]


def test_node_settings_reach_every_simulated_node_and_survive_a_replay(tmp_path: Path) -> None:
    spec = SimSpec(**{**SHORT.__dict__, "node_settings": {"read_repair": False}})
    assert spec.settings()["read_repair"] is False
    result = simulate(spec, SimSchedule(2, []))
    run_dir = write_run(spec, result, SimSchedule(2, []), str(tmp_path), ())
    again, _, _ = read_schedule(str(run_dir))
    assert again == spec and as_run_config(again).node_settings == {"read_repair": False}


@pytest.mark.parametrize(
    ("argv", "says"),
    [(["--blind-writes", "2"], "--blind-writes"), (["--keys", "0"], "--keys"),
     (["--node-setting", "name=x"], "--node-setting name"),
     (["--node-setting", "r=9"], "--node-setting")],
)  # fmt: skip
def test_bad_workload_options_exit_254_with_one_message(
    argv: list[str], says: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "--count", "1", "--store", str(tmp_path), *argv]) == 254
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err, err


def test_schedule_json_has_the_shape_of_a_real_runs(tmp_path: Path) -> None:
    spec = SimSpec(time_limit_s=6.0, rate=40.0, concurrency=3, quiesce_s=1.0)
    schedule = SimSchedule(4, planned_faults(spec, 4))
    result = simulate(spec, schedule)
    run_dir = write_run(spec, result, schedule, str(tmp_path), ())
    doc = json.loads((run_dir / "schedule.json").read_text())
    real = schedule_doc(4, 3, schedule.faults, result.realised)
    assert set(doc) == {*real, "simulation"}
    assert doc["streams"] == real["streams"] and doc["fault_rng"] == real["fault_rng"]
    # Each planned and realised record passes the fault validator `sibyl replay` reads with.
    assert [Fault.from_dict(f) for f in doc["planned"]] == schedule.faults
    assert len([Fault.from_dict(f) for f in doc["realised"]]) == len(result.realised) > 0
    # What the streams record says is true of the simulated history too.
    assert streams.stream_mismatches(result.history, as_run_config(spec).make_workload, 4) == []


def test_liveness_mode_records_every_members_status_counters() -> None:
    spec = SimSpec(**{**SHORT.__dict__, "sim_mode": SimMode.LIVENESS})
    result = simulate(spec, SimSchedule(3, []))
    status = [op for op in result.history if op.process == CHECKER and op.f == "status"]
    assert sorted((op.node, op.extra["round"]) for op in status) == sorted(
        (n, r) for n in ("n1", "n2", "n3") for r in range(1, ROUNDS + 1))  # fmt: skip
    assert all(set(op.extra["status"]["counters"]) == set(COUNTERS) for op in status)
    assert result.results["liveness"].valid is True
    assert result.results["liveness"].stats["live_nodes"] == ["n1", "n2", "n3"]
    safety = simulate(SHORT, SimSchedule(3, []))
    assert "liveness" not in safety.results
    assert not any(op.process == CHECKER and op.f == "status" for op in safety.history)


def test_partitions_and_random_kills_can_hit_a_spare_that_has_joined() -> None:
    spec = SimSpec(nodes=4, nemesis=("join", "kill", "partition"), time_limit_s=12.0,
                   rate=20.0, concurrency=2, quiesce_s=1.0)  # fmt: skip
    faults = [
        Fault(1, FaultKind.JOIN, 0.5, 11.5, ("n5",)),
        Fault(2, FaultKind.PARTITION, 4.0, 5.0, (), {"shape": "halves"}),
        *(Fault(i, FaultKind.KILL, 5.0 + i * 0.5, 5.2 + i * 0.5) for i in range(3, 13)),
    ]
    result = simulate(spec, SimSchedule(5, faults))
    by_id = {r["id"]: r for r in result.realised}
    assert any("n5" in link for link in by_id[2]["params"]["links"]), by_id[2]
    killed = {t for i in range(3, 13) for t in by_id[i]["targets"]}
    assert "n5" in killed, killed
    assert result.valid is True, result.failing()
