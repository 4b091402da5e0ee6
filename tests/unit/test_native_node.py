"""The node's mypyc build in `sibyl sim`'s workers: used without intercepts, never with one,
and simulating exactly what the node's sources simulate (the same trace digests).

The workers are child processes (harness/sim_batch.py); this process runs the node from
its sources (tests/unit/test_native.py), so its own runs are the Python reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import native
from harness.sim_batch import BatchJob, run_seeds
from harness.sim_runner import SimSchedule, SimSpec, planned_faults, simulate

REPO = Path(__file__).resolve().parents[2]
# every fault kind the simulator models, overlapping, so the compiled code meets them all
KINDS = ("partition", "kill", "pause", "clock", "crash", "wipe", "reset_peer", "limit_data",
         "join", "leave", "replace")  # fmt: skip
SPEC = SimSpec(nemesis=KINDS, time_limit_s=6.0, quiesce_s=2.0, fault_overlap=0.5,
               partition_mode="mixed")  # fmt: skip
SEEDS = [1, 2, 3]


def _workers(spec: SimSpec, store: Path, intercepts: tuple[str, ...] = ()) -> list[dict]:
    return run_seeds(BatchJob(spec, str(store), intercepts), SEEDS, 2, lambda _: None)


def test_workers_run_the_build_and_simulate_what_the_sources_simulate(tmp_path: Path) -> None:
    if not native.current():
        pytest.skip("no current mypyc build (make deps builds it): nothing compiled to compare")
    lines = _workers(SPEC, tmp_path)
    assert [line["compiled"] for line in lines] == [True] * len(SEEDS)
    for line in lines:
        seed = line["seed"]
        here = simulate(SPEC, SimSchedule(seed, planned_faults(SPEC, seed)))
        assert line["digest"] == here.digest, f"seed {seed}: compiled and Python runs differ"
        assert line["valid"] == here.valid and line["ops"] == sum(map(len, here.ops.values()))


def test_workers_with_an_intercept_run_the_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted bug patches the node's sources; a worker that loads one never runs the
    build, whatever the environment says (the planted bug's own tests then find it)."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv(native.OPT_IN["node"], "1")
    bug = ("tests.intercepts.sync_overwrites",)
    lines = _workers(SimSpec(time_limit_s=3.0, quiesce_s=1.0), tmp_path, bug)
    assert [line["compiled"] for line in lines] == [False] * len(SEEDS)


def test_a_process_running_the_compiled_node_refuses_a_planted_bug() -> None:
    """The last guard: even if a process opted in by mistake, its intercept fails loudly
    instead of silently not taking."""
    if not native.current():
        pytest.skip("no current mypyc build (make deps builds it): nothing compiled to refuse")
    code = ("from harness.sim_worker import import_intercepts\n"
            "try:\n    import_intercepts(('tests.intercepts.sync_overwrites',))\n"
            "except RuntimeError as e:\n    print('refused:', e)")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "SIBYL_INTERCEPTS"}
    env[native.OPT_IN["node"]] = "1"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused: the node runs mypyc-compiled here"), out.stdout
