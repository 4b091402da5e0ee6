"""`sibyl sim` finds the planted bugs `sibyl run`'s fault classes find, with run's options.

- reissued_dots (a wiped node reissues dots it forgot): `--nemesis wipe` with
  `sibyl run`'s workload options for it (3 nodes, one key, 80 % blind adds)
  fails within seeds 1..4 (seed 2 first; 3 of seeds 1..8 fail). The same seeds
  pass without the bug, with `--nemesis kill` instead of wipe, and with the
  default workload options (5 keys, no blind writes): the options matter.
- stuck_down (a peer once marked down stays down) and trusting_puts (a put
  waits forever for a reply a lossy link dropped) are liveness bugs: liveness
  mode reads every node's status counters as real runs do and fails seed 1
  (stuck_down: 6 of seeds 1..6; trusting_puts with `--partition-mode drop`:
  8 of seeds 1..8). trusting_puts passes safety mode and a holding partition;
  the correct node passes liveness mode. stuck_down also fails safety mode's
  convergence checker on the simulator (peers that stay down are skipped by
  anti-entropy too), so for it liveness mode adds the reason, not the catch.
- Shrinking a crash and a membership fault end to end: the failing seed
  shrinks, the report says "n faults and m ops suffice", and the shrunk file
  replays and still fails.
Every run is a child process, so no planted bug enters this one.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

WIPE = ("--seeds", "1..4", "--time-limit", "8", "--nodes", "3", "--jobs", "2")
DOTS_OPTS = ("--blind-writes", "0.8", "--keys", "1")
LIVE = ("--seeds", "1..2", "--time-limit", "5", "--nodes", "3", "--jobs", "2",
        "--sim-mode", "liveness", "--nemesis", "partition")  # fmt: skip


def sibyl(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=REPO, text=True,
                          capture_output=True, timeout=300)  # fmt: skip


def bug(name: str) -> tuple[str, str]:
    return "--intercept", f"tests.intercepts.{name}"


def latest(store: Path) -> dict[str, object]:
    return json.loads(((store / "latest").resolve() / "results.json").read_text())


def kinds(results: dict[str, object], checker: str) -> set[str]:
    return {a["kind"] for a in results["checkers"][checker]["anomalies"]}  # type: ignore[index]


def test_wipe_with_runs_workload_options_finds_reissued_dots(tmp_path: Path) -> None:
    store = str(tmp_path / "store")
    found = sibyl("sim", *WIPE, *DOTS_OPTS, "--nemesis", "wipe", "--store", store,
                  *bug("reissued_dots"))  # fmt: skip
    assert found.returncode == 1, found.stdout + found.stderr
    assert "seed 2 fails" in found.stdout
    for argv in (("--nemesis", "wipe", *DOTS_OPTS),  # the correct node
                 ("--nemesis", "kill", *DOTS_OPTS, *bug("reissued_dots")),  # no wipe
                 ("--nemesis", "wipe", *bug("reissued_dots"))):  # fmt: skip  # default workload
        missed = sibyl("sim", *WIPE, *argv, "--store", store)
        assert missed.returncode == 0, (argv, missed.stdout + missed.stderr)


def test_liveness_mode_reads_node_status_and_finds_stuck_down(tmp_path: Path) -> None:
    store = tmp_path / "store"
    found = sibyl("sim", *LIVE, "--store", str(store), *bug("stuck_down"))
    assert found.returncode == 1, found.stdout + found.stderr
    assert "seed 1 fails" in found.stdout
    assert "live-peer-down" in kinds(latest(store), "liveness")
    correct = sibyl("sim", *LIVE, "--store", str(store))
    assert correct.returncode == 0, correct.stdout + correct.stderr


def test_liveness_mode_finds_trusting_puts_that_safety_mode_misses(tmp_path: Path) -> None:
    store = tmp_path / "store"
    drop = ("--partition-mode", "drop")
    found = sibyl("sim", *LIVE, *drop, "--store", str(store), *bug("trusting_puts"))
    assert found.returncode == 1, found.stdout + found.stderr
    assert "seed 1 fails (liveness)" in found.stdout
    assert kinds(latest(store), "liveness") == {"requests-stuck"}
    safety = [*LIVE[: LIVE.index("--sim-mode")], "--nemesis", "partition", *drop]
    for argv in ((*safety, *bug("trusting_puts")),  # safety mode: the data is fine
                 (*LIVE, *bug("trusting_puts")),  # a holding partition delivers the write
                 (*LIVE, *drop)):  # fmt: skip  # the correct node
        missed = sibyl("sim", *argv, "--store", str(store))
        assert missed.returncode == 0, (argv, missed.stdout + missed.stderr)


SUFFICE = re.compile(r"(\d+) faults and (\d+) ops suffice \(from (\d+) faults and (\d+) ops\)")


@pytest.mark.parametrize(
    ("argv", "kind"),
    [(("--seeds", "2..2", "--time-limit", "10", "--nemesis", "crash", *bug("no_fsync")),
      "crash"),
     (("--seeds", "1..1", "--time-limit", "6", "--nodes", "3", "--sim-mode", "liveness",
       "--nemesis", "join", *bug("same_seq_joins")), "join")],
    ids=["crash", "join"],
)  # fmt: skip
def test_a_crash_or_membership_failure_shrinks_and_the_shrunk_file_still_fails(
    argv: tuple[str, ...], kind: str, tmp_path: Path
) -> None:
    # Stated bounds: seed 2's crash run (2 faults, ~730 ops) shrinks to 1 crash and 1 op;
    # seed 1's join run (1 fault, ~450 ops) to the join and no ops.
    store = tmp_path / "store"
    found = sibyl("sim", *argv, "--store", str(store))
    assert found.returncode == 1, found.stdout + found.stderr
    out = tmp_path / "shrunk.json"
    shrunk = sibyl("shrink", str(store / "latest"), "--max-runs", "60", "--out", str(out))
    assert shrunk.returncode == 0, shrunk.stdout + shrunk.stderr
    m = SUFFICE.search(" ".join(shrunk.stdout.split()))
    assert m, shrunk.stdout
    faults, ops, faults0, ops0 = map(int, m.groups())
    assert faults == 1 <= faults0 and ops <= 5 and ops0 > 100, m.group(0)
    replayed = Path(shrunk.stdout.split("replayed: still fails -> ")[1].split()[0])
    assert re.search(r"\d+ faults and \d+ ops suffice", (replayed / "report.html").read_text())
    doc = json.loads(out.read_text())
    assert [f["kind"] for f in doc["faults"]] == [kind]
    replay = sibyl("sim", "--schedule", str(out), "--store", str(store))
    assert replay.returncode == 1, replay.stdout + replay.stderr
