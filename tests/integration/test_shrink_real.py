"""`sibyl shrink` on a real run: replaying subsets of its realised schedule on real nodes.

The planted bug (tests/intercepts/sync_overwrites: replicas overwrite instead
of merging) fails a cart run with or without faults, so the 2-fault schedule
of seed 1 must shrink to fewer faults, and the run it keeps must fail the
same checkers and name the original run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sibyl(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=REPO, text=True,
                          capture_output=True, timeout=300)  # fmt: skip


def test_shrink_keeps_a_smaller_schedule_that_still_fails(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    run = sibyl("run", "--time-limit", "8", "--nemesis", "partition,kill", "--seed", "1",
                "--quiesce", "2", "--store", store,
                "--intercept", "tests.intercepts.sync_overwrites")  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    original = (tmp_path / "store" / "latest").resolve()
    before = json.loads((original / "schedule.json").read_text())["realised"]
    assert len(before) == 2

    shrunk = sibyl("shrink", str(original), "--tries", "2", "--max-runs", "6")
    assert shrunk.returncode == 0, shrunk.stdout + shrunk.stderr
    kept = Path(shrunk.stdout.split("->")[-1].split()[0])
    note = json.loads((kept / "shrink.json").read_text())
    assert note["original"] == str(original) and note["faults_after"] < len(before)
    assert len(json.loads((kept / "schedule.json").read_text())["planned"]) < len(before)
    results = json.loads((kept / "results.json").read_text())
    assert results["valid"] is False and results["checkers"]["lost_adds"]["valid"] is False
    page = (kept / "report.html").read_text()
    assert f"sibyl shrink {original}" in page
    assert 'id="shrunk"' in page and f"{note['faults_after']} of its {len(before)} faults" in page
    link = page.split('id="shrunk"')[1].split('href="')[1].split('"')[0]
    assert (kept / link).resolve() == original / "report.html"
