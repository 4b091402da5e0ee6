"""Everything random in a real run is seeded or recorded, so a replay reproduces it.

An audit of the source (no unseeded randomness in harness/ or workloads/, and
each OS-random draw is one listed here with the reason it must not be seeded),
and the replay of recorded choices: schedule.json's planned faults are the
seed's, and a fault's own draws (its partition cut, a target it left open) are
a function of the seed and its id alone, in whatever order faults start.
"""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from harness.engine import _realised
from harness.faults import Fault, FaultKind
from harness.generator import FAULT_RNG, fault_schedule, schedule_doc
from harness.nemesis import Nemesis
from harness.partitions import cut_for, sorted_links
from harness.runner import RunConfig
from workloads import streams

ROOT = Path(__file__).resolve().parents[2]

#: (file, function) -> why it draws from the OS instead of the seed.
OS_RANDOM = {
    ("harness/cluster.py", "free_ports"): "ports must differ between concurrent runs; "
    "histories and faults name nodes, never ports",
    ("harness/runner.py", "run_test"): "draws the run's seed itself (printed, in config.json)",
    ("harness/commands/run.py", "_run"): "draws the run's seed itself (printed, in config.json)",
    ("harness/commands/demo.py", "_run"): "draws the demo's seed (printed)",
    ("harness/toxiproxy/server.py", "run"): "a standalone proxy server without --seed (logged)",
}


def random_calls(path: Path) -> list[tuple[str, str, ast.Call]]:
    """(enclosing function, attribute, call) for every `random.X(...)` call in `path`."""
    tree = ast.parse(path.read_text())
    out = []
    for fn in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "random"
            ):
                out.append((fn.name, node.func.attr, node))
    return out


def sources() -> list[Path]:
    return sorted([*(ROOT / "harness").rglob("*.py"), *(ROOT / "workloads").rglob("*.py")])


def test_no_unseeded_randomness_in_the_harness_or_the_workloads() -> None:
    problems, seen = [], set()
    for path in sources():
        rel = path.relative_to(ROOT).as_posix()
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "random":
                problems.append(f"{rel}:{node.lineno}: from random import ... (the global rng)")
            if isinstance(node, ast.Import) and any(
                a.name == "random" and a.asname for a in node.names
            ):
                problems.append(f"{rel}:{node.lineno}: import random as ... (hides draws)")
        for fn, attr, call in random_calls(path):
            where = f"{rel}:{call.lineno} ({fn})"
            if attr == "SystemRandom":
                seen.add((rel, fn))
                if (rel, fn) not in OS_RANDOM:
                    problems.append(f"{where}: OS randomness not audited in OS_RANDOM")
            elif attr == "Random":
                if not call.args:
                    problems.append(f"{where}: random.Random() without a seed")
            else:
                problems.append(f"{where}: random.{attr}() draws from the unseeded global rng")
    assert problems == []
    assert seen == set(OS_RANDOM), "OS_RANDOM lists a site that no longer exists"


def test_the_audit_catches_an_unseeded_draw(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import random\ndef pick(xs):\n    return random.choice(xs)\n")
    assert [(fn, attr) for fn, attr, _ in random_calls(bad)] == [("pick", "choice")]


def test_schedule_json_records_the_seed_and_every_derivation() -> None:
    cfg = RunConfig(nodes=3, seed=77, concurrency=4, nemesis=("partition", "kill", "clock"))
    nodes = ["n1", "n2", "n3"]
    faults = fault_schedule(cfg.nemesis, nodes, 30.0, random.Random(77), cfg.schedule_options())
    doc = schedule_doc(cfg.seed, cfg.concurrency, faults, realised=[])
    assert doc["seed"] == 77 and doc["fault_rng"] == FAULT_RNG
    assert doc["streams"]["scheme"] == streams.SCHEME and doc["streams"]["concurrency"] == 4
    # A replay draws the planned faults again from the recorded seed and gets the same ones.
    again = fault_schedule(cfg.nemesis, nodes, 30.0, random.Random(doc["seed"]),
                           cfg.schedule_options())  # fmt: skip
    assert [f.to_dict() for f in again] == doc["planned"]
    assert {f["kind"] for f in doc["planned"]} == {"partition", "kill", "clock"}


def nemesis(seed: int) -> Nemesis:
    """A nemesis for its draws only (no cluster: nothing is applied)."""
    return Nemesis(None, None, None, random.Random(f"{seed}/nemesis"))  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", ["halves", "one", "bridge", "majorities-ring"])
def test_a_faults_cut_depends_on_the_seed_and_its_id_not_on_other_faults(shape: str) -> None:
    nodes = ["n1", "n2", "n3", "n4", "n5"]
    faults = [Fault(i, FaultKind.PARTITION, i, i + 1, (), {"shape": shape}) for i in range(1, 9)]

    def cuts(order: list[Fault], seed: int) -> dict[int, list[tuple[str, str]]]:
        nem = nemesis(seed)
        return {f.id: sorted_links(cut_for(shape, nodes, nem.fault_rng(f))) for f in order}

    forward = cuts(faults, 5)
    assert forward == cuts(faults[::-1], 5) == cuts(faults[3:] + faults[:3], 5)
    assert len({repr(c) for c in forward.values()}) > 1  # ids draw differently
    assert forward != cuts(faults, 6)  # so do seeds


def test_a_realised_partition_carries_its_links_so_a_replay_redraws_nothing() -> None:
    fault = Fault(3, FaultKind.PARTITION, 1.0, 2.0, (), {"shape": "halves"})
    links = sorted_links(cut_for("halves", ["n1", "n2", "n3"], nemesis(9).fault_rng(fault)))
    record = _realised(fault, {"targets": ["n1", "n2", "n3"], "links": links})
    replayed = Fault.from_dict(record)
    assert [tuple(x) for x in replayed.params["links"]] == [tuple(x) for x in links]
    assert replayed.targets == ("n1", "n2", "n3") and replayed.params["shape"] == "halves"
