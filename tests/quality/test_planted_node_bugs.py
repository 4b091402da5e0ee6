"""Does the harness catch planted node bugs? Each scenario passes on the correct node
and reports the right anomaly when an intercept plants the bug."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from harness.cluster import LocalCluster
from tests.support import scenarios
from tests.support.cluster import running_cluster

REPO = str(Path(__file__).resolve().parents[2])

Scenario = Callable[[LocalCluster], Awaitable[list[str]]]


@dataclass(frozen=True)
class Case:
    """A planted bug, the scenario that must catch it, and the conditions both runs share."""

    bug: str
    scenario: Scenario
    symptom: str
    conditions: tuple[str, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)


CASES = [
    Case("tests.intercepts.reissued_dots", scenarios.amnesia, "want both"),
    Case("tests.intercepts.sync_overwrites", scenarios.concurrent_blind_puts, "want all"),
    Case("tests.intercepts.ack_before_fsync", scenarios.crash_after_ack, "after the crash"),
]
IDS = [c.bug.rsplit(".", 1)[1] for c in CASES]


def run(tmp: Path, case: Case, with_bug: bool) -> list[str]:
    intercepts = [*case.conditions, *([case.bug] if with_bug else [])]
    env = {"PYTHONPATH": REPO, "SIBYL_INTERCEPTS": ",".join(intercepts)}
    settings = {"antientropy_interval_ms": 0, **case.settings}
    with running_cluster(tmp, 5, env=env, **settings) as cluster:
        return asyncio.run(case.scenario(cluster))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scenario_passes_on_the_correct_node(tmp_path: Path, case: Case) -> None:
    assert run(tmp_path, case, with_bug=False) == []


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scenario_catches_the_planted_bug(tmp_path: Path, case: Case) -> None:
    problems = run(tmp_path, case, with_bug=True)
    assert problems, f"{case.bug} went unnoticed"
    assert all(case.symptom in p for p in problems), problems
