"""`sibyl sim`'s pieces: workload coroutines on virtual time, fault records on the simulator,
replayable schedules, and a run that is a function of its seed only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import main
from harness.ddmin import Budget, ddmin
from harness.faults import Fault, FaultKind
from harness.sim_nemesis import SIM_CLOCK_OPS, SimNemesis
from harness.sim_runner import SimSchedule, SimSpec, planned_faults, simulate
from node.client import NodeError
from node.sim.clients import Scheduler, SimClient
from node.sim.cluster import SimConfig, Simulator

REPO = Path(__file__).resolve().parents[2]
SHORT = SimSpec(time_limit_s=3.0, rate=50.0, concurrency=3, quiesce_s=2.0)


def test_coroutines_run_on_virtual_time_and_see_each_others_writes() -> None:
    sim = Simulator(7)
    seen: list[object] = []

    async def writer_then_reader() -> None:
        await SimClient("n1").put("k", b"v1")
        got = await SimClient("n4").get("k")
        seen.append((got.siblings, sim.now_ms))

    sched = Scheduler(sim)
    sched.spawn(writer_then_reader())
    sched.run()
    assert seen and seen[0][0] == [b"v1"]  # type: ignore[index]
    assert 0 < seen[0][1] < 1000  # type: ignore[index]  # a few simulated latencies, not wall time


def test_a_node_error_reaches_the_workload_as_in_a_socket_client() -> None:
    sim = Simulator(3, SimConfig(settings={"w": 3, "n": 3, "request_timeout_ms": 300}))
    for name in sim.names[1:]:
        sim.crash(name)
    errors: list[str] = []

    async def put() -> None:
        try:
            await SimClient("n1").put("k", b"v")
        except NodeError as e:
            errors.append(e.code)

    sched = Scheduler(sim)
    sched.spawn(put())
    sched.run()
    assert errors == ["unavailable"]


def test_kill_and_partition_faults_act_on_the_simulator_and_heal() -> None:
    sim = Simulator(1)
    nemesis = SimNemesis(sim, 1)
    kill = Fault(1, FaultKind.KILL, 0, 1, ("n2",))
    details = nemesis.start(kill)
    assert not sim.is_up("n2")
    nemesis.stop(kill, details)
    assert sim.is_up("n2") and sim.boots["n2"] == 2
    cut = nemesis.start(Fault(2, FaultKind.PARTITION, 0, 1, (), {"shape": "one"}))
    assert cut["links"] and all(not sim.network.connected(a, b) for a, b in cut["links"])
    nemesis.heal_all()
    assert not sim.network.cut


def test_a_schedule_with_its_ops_replays_the_same_trace() -> None:
    first = simulate(SHORT, SimSchedule(5, planned_faults(SHORT, 5)))
    doc = json.loads(json.dumps(SimSchedule(5, planned_faults(SHORT, 5), first.ops).to_dict()))
    again = simulate(SHORT, SimSchedule.from_dict(doc))
    assert again.digest == first.digest and again.valid is True
    other = simulate(SHORT, SimSchedule(6, planned_faults(SHORT, 6)))
    assert other.digest != first.digest


DIGEST = (
    "from harness.sim_runner import *; s = SimSpec(time_limit_s=3.0, rate=50.0, concurrency=3,"
    " quiesce_s=2.0); print(simulate(s, SimSchedule(11, planned_faults(s, 11))).digest)"
)


def test_same_seed_same_digest_across_processes_and_hash_seeds() -> None:
    digests = set()
    for hash_seed in ("0", "1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", DIGEST], cwd=REPO, env=env, check=True,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        digests.add(out.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 32


@pytest.mark.parametrize(
    "argv",
    [["--seeds", "5..x"], ["--seeds", "9..2"], ["--count", "0"], ["--nemesis", "bandwidth"],
     ["--nemesis", "flood"], ["--nemesis", "leave", "--nodes", "3"],
     ["--nemesis", "join", "--nodes", "1"], ["--fault-overlap", "2"],
     ["--nemesis-interval", "0"],
     ["--time-limit", "0"], ["--jobs", "0"],
     ["--schedule", "/nonexistent/schedule.json"]],
)  # fmt: skip
def test_bad_options_exit_254_with_one_message(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sim", "--store", str(tmp_path), *argv]) == 254
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and "sibyl sim" in err


def test_simulated_schedules_hold_only_clock_jumps() -> None:
    # libfaketime's freeze and rate are no simulated clock's: the sim draws jumps only.
    spec = SimSpec(nemesis=("clock",), time_limit_s=60.0)
    ops = {f.params["op"] for seed in range(1, 40) for f in planned_faults(spec, seed)}
    assert ops and ops <= set(SIM_CLOCK_OPS)


def test_ddmin_finds_the_two_elements_that_matter_within_budget() -> None:
    calls: list[int] = []

    def fails(xs: list[int]) -> bool:
        calls.append(1)
        return 3 in xs and 17 in xs

    assert ddmin(list(range(40)), fails, Budget(500)) == [3, 17]
    assert len(calls) < 80
    assert len(ddmin(list(range(40)), fails, Budget(3))) > 2  # out of budget: smaller, not minimal


def test_shrink_of_a_run_that_passed_or_does_not_exist_exits_254(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["shrink", str(tmp_path / "nothing")]) == 254
    capsys.readouterr()
    run = tmp_path / "run"
    run.mkdir()
    (run / "history.jsonl").write_text("")
    (run / "config.json").write_text("{}")
    stats = {"ops_completed": 0, "ok": 0, "fail": 0, "info": 0, "chaos_s": 0, "ops_per_s": 0}
    passed = {
        "schema_version": 1,
        "valid": True,
        "test": "t",
        "seed": 1,
        "command": "c",
        "stats": stats,
        "checkers": {"x": {"valid": True, "anomalies": [], "stats": {}}},
    }
    (run / "results.json").write_text(json.dumps(passed))
    (run / "schedule.json").write_text('{"planned": []}')
    assert main(["shrink", str(run)]) == 254
    assert "nothing to shrink" in capsys.readouterr().err


def test_a_fault_free_run_keeps_its_clients_busy() -> None:
    """With nothing asleep (every client awaiting a reply, no nemesis), the scheduler
    resumes a client as soon as its reply comes, not at the end of the client timeout."""
    spec = SimSpec(nodes=3, time_limit_s=4, rate=40, concurrency=2, nemesis=())
    run = simulate(spec, SimSchedule(seed=1, faults=[]))
    limit_ns = round(spec.time_limit_s * 1e9)  # the final reads come after a quiet period
    invokes = sorted(
        op.time for op in run.history if op.type.value == "invoke" and op.time < limit_ns
    )
    assert invokes, "no ops were invoked"
    gaps = [b - a for a, b in zip(invokes, invokes[1:], strict=False)]
    assert max(gaps) < 1_000_000_000, f"an idle gap of {max(gaps) / 1e9:.2f} s"


def test_an_intercept_that_cannot_be_imported_is_bad_input() -> None:
    """A stored run names its intercepts; read back from elsewhere, one may not import:
    that is a usage error (exit 254, one line), not a traceback."""
    from harness.errors import UsageError
    from harness.sim_worker import import_intercepts

    with pytest.raises(UsageError, match="tests.intercepts.missing_bug: cannot import it"):
        import_intercepts(("tests.intercepts.missing_bug",))
