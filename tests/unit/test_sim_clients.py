"""The simulated run's client slots (harness/sim_clients.py): the pauses and ops they draw
are those `sibyl run`'s engine draws from the same seed (workloads/streams.py)."""

from __future__ import annotations

import pytest

from checkers.history import Op, OpType
from harness.sim_runner import SimSchedule, SimSpec, as_run_config, planned_faults, simulate
from workloads import streams

SPEC = SimSpec(time_limit_s=4.0, quiesce_s=1.0)


@pytest.mark.parametrize("seed", [1, 2])
def test_each_slot_pauses_as_its_pace_rng_draws(seed: int) -> None:
    """The loop writes `Random.expovariate` out (it runs as Python): the same pauses."""
    result = simulate(SPEC, SimSchedule(seed, planned_faults(SPEC, seed)))
    pace_ms = 1000 * SPEC.concurrency / SPEC.rate
    assert set(result.ops) == set(range(SPEC.concurrency))
    for slot, steps in result.ops.items():
        pauses = streams.pace_rng(seed, slot)
        drawn = [round(pauses.expovariate(1 / pace_ms)) for _ in steps]
        assert [gap for _, gap in steps] == drawn, f"slot {slot}"
        assert len(steps) > 3 and len(set(drawn)) > 1


def test_each_slot_invokes_its_process_stream() -> None:
    result = simulate(SPEC, SimSchedule(3, planned_faults(SPEC, 3)))
    invoked = streams.invocations(result.history)
    assert len(invoked) >= SPEC.concurrency
    for process, specs in invoked.items():
        fresh = streams.op_stream(as_run_config(SPEC).make_workload, 3, process, len(specs))
        assert specs == fresh, f"process {process}"


def test_an_op_cannot_be_changed_once_recorded() -> None:
    """`Op` has `Final` fields: mypy refuses an assignment, and so does the compiled build
    at run time (the tests' checkers run compiled whenever the build is current)."""
    import native

    if not native.in_use("checkers")["checkers.history"]:
        pytest.skip("no current mypyc build (make deps builds it): nothing compiled to refuse")
    op = Op(0, 0, 1, OpType.INVOKE, "read", "k")
    with pytest.raises(AttributeError):
        op.value = 3  # type: ignore[misc]
    assert op.value is None
