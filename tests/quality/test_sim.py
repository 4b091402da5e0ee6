"""`sibyl sim` finds a planted bug, `sibyl shrink` minimises its schedule, and the shrunk
schedule still fails on replay.

The bug (tests/intercepts/restart_ignores_syncs.py) shows only after a kill
and a restart: the restarted node ignores incoming syncs, so its replicas stay
behind. Stated bounds: found within seeds 1..4 at 10 virtual seconds each (5
of seeds 1..8 fail, seed 1 first); its 2-fault schedule (a kill, a clock
bump) shrinks to at most 1 fault and fewer ops within 30 simulations.
Every step runs in a child process, so the planted bug never enters this one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUG = "tests.intercepts.restart_ignores_syncs"


def sibyl(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=REPO, text=True,
                          capture_output=True, timeout=timeout)  # fmt: skip


def test_sim_finds_the_planted_bug_and_its_schedule_shrinks(tmp_path: Path) -> None:
    store = tmp_path / "store"
    found = sibyl("sim", "--seeds", "1..4", "--time-limit", "10", "--jobs", "2",
                  "--store", str(store), "--intercept", BUG)  # fmt: skip
    assert found.returncode == 1, found.stdout + found.stderr
    assert "seed 1 fails" in found.stdout and "failing" in found.stdout
    runs = [
        d for d in store.glob("*/2*") if json.loads((d / "results.json").read_text())["seed"] == 1
    ]
    run_dir = runs[0]
    for name in ("history.jsonl", "schedule.json", "results.json", "junit.xml", "report.html"):
        assert (run_dir / name).is_file(), name
    assert sibyl("check", str(run_dir)).returncode == 1  # an ordinary run directory

    shrunk = sibyl("shrink", str(run_dir), "--max-runs", "30", "--out", str(tmp_path / "s.json"))
    assert shrunk.returncode == 0, shrunk.stdout + shrunk.stderr
    doc = json.loads((tmp_path / "s.json").read_text())
    ops = sum(len(v) for v in doc["ops"].values())
    original = json.loads((run_dir / "schedule.json").read_text())["simulation"]
    assert len(doc["faults"]) <= 1 < len(original["faults"])
    assert ops < sum(len(v) for v in original["ops"].values())
    assert f"{len(doc['faults'])} faults and {ops} ops suffice" in " ".join(shrunk.stdout.split())
    kept = Path(" ".join(shrunk.stdout.split()).split("still fails -> ")[-1].split()[0])
    page = (kept / "report.html").read_text()  # says what suffices, links to the original
    assert 'id="shrunk"' in page and f"{len(doc['faults'])} faults and {ops} ops suffice" in page
    link = page.split('id="shrunk"')[1].split('href="')[1].split('"')[0]
    assert (kept / link).resolve() == (run_dir / "report.html").resolve()

    replay = sibyl("sim", "--schedule", str(tmp_path / "s.json"), "--store", str(store))
    assert replay.returncode == 1, replay.stdout + replay.stderr


def test_without_the_bug_or_without_faults_the_same_seed_passes(tmp_path: Path) -> None:
    clean = sibyl("sim", "--seeds", "1..1", "--time-limit", "10", "--store", str(tmp_path))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    calm = sibyl("sim", "--seeds", "1..1", "--time-limit", "10", "--nemesis", "none",
                 "--store", str(tmp_path), "--intercept", BUG)  # fmt: skip
    assert calm.returncode == 0, calm.stdout + calm.stderr


def test_liveness_mode_fails_a_cluster_that_never_converges(tmp_path: Path) -> None:
    argv = ("sim", "--seeds", "1..1", "--time-limit", "10", "--sim-mode", "liveness",
            "--converge-bound", "5", "--store", str(tmp_path))  # fmt: skip
    assert sibyl(*argv).returncode == 0  # without the bug, the replicas agree in time
    broken = sibyl(*argv, "--intercept", BUG)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    results = json.loads(((tmp_path / "latest").resolve() / "results.json").read_text())
    assert results["checkers"]["liveness"]["valid"] is False


def test_check_determinism_runs_each_seed_twice_and_agrees(tmp_path: Path) -> None:
    done = sibyl("sim", "--seeds", "2..3", "--time-limit", "3", "--check-determinism",
                 "--store", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not deterministic" not in done.stdout and "2/2 seeds" in done.stdout
