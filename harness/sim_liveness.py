"""Liveness mode on the simulator: the checks `sibyl run`'s liveness checker makes, and more.

After the quiesce and the replica reads, `record_statuses` asks every member
for its `status` (through the node's own debug request, as
`harness.status_rounds` does on real processes) in `ROUNDS` rounds
`INTERVAL_MS` virtual ms apart, and records the same `status` checker ops.
`liveness_result` is then `checkers.liveness.check` over that history (live
peers marked down, hints or requests that never drain, anti-entropy that never
stops, oversized clocks and sibling sets, ring views and membership changes
that disagree), plus one anomaly when the replicas did not converge within the
bound. Guarantee: a run in liveness mode fails on everything a real run's
liveness checker would flag on the same node states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from checkers import liveness
from checkers.history import Op
from checkers.result import Result
from harness.history import Recorder
from harness.status_rounds import snapshot
from node.sim.clients import SimClient, sleep_until
from node.sim.cluster import Simulator

#: As `sibyl run` (3 status rounds 1 s apart, harness/runner.py and harness/engine.py).
ROUNDS = 3
INTERVAL_MS = 1000


async def record_statuses(rec: Recorder, sim: Simulator, keys: Sequence[str]) -> None:
    """`ROUNDS` rounds of status snapshots of every member (spares excluded, as in a real
    run's lab), `INTERVAL_MS` apart."""
    for round_ in range(1, ROUNDS + 1):
        if round_ > 1:
            await sleep_until(sim.now_ms + INTERVAL_MS)
        for name in sim.names:
            snap = await snapshot(SimClient(name), keys)
            rec.checker_op(liveness.STATUS, "", name, round=round_, **snap)


def liveness_result(
    history: Sequence[Op], agreed: bool, converge_s: float, settings: dict[str, Any]
) -> Result:
    """The real liveness checker's verdict on `history`, failed too when the replicas did
    not agree within `converge_s` virtual seconds."""
    clock = int(settings.get("max_clock_entries", 32))
    real = liveness.check(history, max_clock_entries=clock)
    found = list(real.anomalies)
    if not agreed:
        found.append({"kind": "not-converged", "node": "", "counter": "replicas-agree",
                      "values": [[round(converge_s * 1000), False]],
                      "explanation": f"replicas still differ within {converge_s:g} virtual s "
                                     "of the heal"})  # fmt: skip
    return Result(not found, found, {**real.stats, "converge_bound_s": converge_s})
