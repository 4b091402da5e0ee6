"""Each new fault class catches a planted bug that the older faults miss (`sibyl run`).

For every class — durability (crash, wipe), lossy links, membership, liveness —
one run plants a bug (tests/intercepts/) and must be invalid, and the correct
node must pass under the same arguments. For the lost-write bugs, the same run
with the durability fault replaced by a plain kill (of the same nodes, or, for
ack_before_fsync, of one node as `--nemesis kill` did before) must pass: only
the new fault exposes them. Runs are short (3 nodes, a few seconds of chaos).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.faults import Fault
from harness.lazyfs_control import fuse_available
from harness.runner import Outcome, RunConfig, run_test

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@dataclass(frozen=True)
class Case:
    """A planted bug, the run that must catch it, and the checker that reports it.

    `faults` (id, kind, start_s, end_s, targets, params) is the schedule; `without`
    overrides args and/or faults for the run that must miss the bug."""

    bug: str
    args: dict[str, Any]
    faults: list[tuple[Any, ...]]
    checker: str
    anomaly: str
    without: dict[str, Any] | None = None
    check_correct: bool = True
    needs: tuple[str, ...] = ()
    #: Seeds tried until one catches the bug: the bug shows only when timing lines up
    #: (a real run is a sample, not a proof); the run without the fault must miss it on all.
    seeds: tuple[int, ...] = (1,)
    #: Other (checker, anomaly) pairs that report the same damage: an acknowledged write
    #: that vanished is `lost` to lost_adds if its item is gone from the final reads, and
    #: `uncovered` to causality if a later write of the item hides it.
    also: tuple[tuple[str, str], ...] = ()


ALL3 = ("n1", "n2", "n3")
CRASH_ALL = [(1, "crash", 1.5, 3.0, ALL3, {})]
CASES = [
    Case("no_fsync", {"nodes": 3, "nemesis": ("crash",)}, CRASH_ALL, "lost_adds", "lost",
         {"faults": [(1, "kill", 1.5, 3.0, ALL3, {})]}, needs=("fuse",)),
    Case("ack_before_fsync", {"nodes": 3, "nemesis": ("crash",)}, CRASH_ALL, "lost_adds",
         "lost", {"nemesis": ("kill",), "faults": [(1, "kill", 1.5, 3.0, ("n1",), {})]},
         check_correct=False, needs=("fuse",)),
    # Few keys, mostly blind adds: the wiped node soon coordinates a put without a context
    # on a key it has forgotten, before anti-entropy refills it.
    # The window is short (until a replica write reaches the wiped node), so two nodes
    # are wiped one after the other: two windows a run.
    Case("reissued_dots", {"nodes": 3, "nemesis": ("wipe",), "blind_writes": 0.8, "keys": 1,
                           "time_limit_s": 8.0},
         [(1, "wipe", 1.5, 3.0, ("n1",), {}), (2, "wipe", 4.5, 6.0, ("n2",), {})],
         "lost_adds", "lost",
         {"faults": [(1, "kill", 1.5, 3.0, ("n1",), {}), (2, "kill", 4.5, 6.0, ("n2",), {})]},
         seeds=(1, 2, 3, 4, 5, 6, 7, 8), also=(("causality", "uncovered"),)),
    Case("trusting_puts", {"nemesis": ("partition",)},
         [(1, "partition", 1.0, 3.0, (), {"shape": "halves", "mode": "drop"})],
         "liveness", "requests-stuck",
         {"faults": [(1, "partition", 1.0, 3.0, (), {"shape": "halves", "mode": "hold"})]}),
    # The members are cut from each other while each seed admits its joiner (composed faults).
    Case("same_seq_joins", {"nodes": 3, "nemesis": ("join", "partition")},
         [(1, "partition", 0.5, 2.5, (), {"links": [[a, b] for a in ALL3 for b in ALL3
                                                     if a != b]}),
          (2, "join", 1.0, 4.5, ("n4", "n5"), {})], "liveness", "ring-views-did-not-agree"),
    Case("stuck_down", {"nodes": 3, "nemesis": ("partition",)},
         [(1, "partition", 1.0, 3.0, (), {"shape": "one"})], "liveness", "live-peer-down",
         check_correct=False),
]  # fmt: skip


def run(
    tmp: Path, args: dict[str, Any], faults: list[tuple[Any, ...]] | None, bug: str | None = None
) -> Outcome:
    intercepts = (f"tests.intercepts.{bug}",) if bug else ()
    cfg = RunConfig(**{"time_limit_s": 5.0, "quiesce_s": 1.5, "store": str(tmp / "store"),
                       "seed": 1, "intercepts": intercepts, **args})  # fmt: skip
    schedule = None if faults is None else [Fault(*f) for f in faults]
    out = io.StringIO()
    outcome = run_test(cfg, "sibyl run (test)", Console(file=out, width=200), faults=schedule)
    print(out.getvalue())
    return outcome


def kinds(o: Outcome, checker: str) -> set[str]:
    return {a.get("kind") for a in o.doc["checkers"][checker]["anomalies"]}


@pytest.mark.parametrize(
    "case",
    # a case that tries many seeds gets time for each (a run takes about 13 s)
    [
        pytest.param(c, marks=pytest.mark.timeout(60 + 20 * len(c.seeds)))
        if len(c.seeds) > 4
        else c
        for c in CASES
    ],
    ids=[c.bug for c in CASES],
)
def test_new_fault_class_catches_its_planted_bug(case: Case, tmp_path: Path) -> None:
    if "fuse" in case.needs and (why := fuse_available()):
        pytest.fail(f"FUSE is required for durability faults and missing here: {why}")
    for seed in case.seeds:
        caught = run(tmp_path / f"bug-{seed}", {"seed": seed, **case.args}, case.faults, case.bug)
        if caught.status == 1:
            break
    assert caught.status == 1, caught.doc.get("checkers", caught.doc)
    found = {(c, k) for c in (case.checker, *(c for c, _ in case.also)) for k in kinds(caught, c)}
    assert found & {(case.checker, case.anomaly), *case.also}, found
    if case.check_correct:
        correct = run(tmp_path / "correct", {"seed": seed, **case.args}, case.faults)
        assert correct.status == 0, correct.doc.get("checkers", correct.doc)
    if case.without is not None:
        without = dict(case.without)
        faults = without.pop("faults", case.faults)
        missed = run(tmp_path / "without", {"seed": seed, **case.args, **without}, faults, case.bug)
        assert missed.status == 0, f"{case.bug} was caught without the new fault class"
