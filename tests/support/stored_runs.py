"""Real, short stored runs for the report and results-site tests, made once per session.

Five runs, started together as `sibyl` subprocesses into one store: an LWW
cart under clock skew (lost adds: invalid), a sloppy register under a
partition (not linearizable), shard 0 of 2 of a sweep of valid cart runs
(two runs; the other shard's two cells are expected but never run), and a
run interrupted with Ctrl-C (crashed). Each is a real cluster of real node
processes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import runindex
from harness.sweep import wait_started

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SWEEP = """name = "nightly-test"
parallel = 2
[matrix]
workloads = ["cart"]
nemeses = ["none", "partition"]
seeds = [1, 2]
[options]
time_limit = 3
quiesce = 1
"""


@dataclass
class StoredRuns:
    """The store and the run directory of each kind of run."""

    store: Path
    invalid: Path
    register: Path
    valid: list[Path]
    crashed: Path
    sweep_status: int
    indexed_by_runs: int
    merge_output: str


def _sibyl(*args: str) -> list[str]:
    return [sys.executable, "-m", "harness.cli", *args]


def make_runs(base: Path) -> StoredRuns:
    """Runs them all (in parallel) and returns where they are; fails loudly if one is missing."""
    store = base / "store"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    (base / "nightly.toml").write_text(SWEEP)
    out = base / "logs"
    out.mkdir()
    jobs = {
        "invalid": _sibyl("run", "--conflict", "lww", "--nemesis", "clock", "--time-limit", "8",
                          "--seed", "7", "--quiesce", "1", "--store", str(store)),
        "register": _sibyl("run", "--workload", "register", "--nemesis", "partition",
                           "--time-limit", "6", "--seed", "3", "--quiesce", "1",
                           "--store", str(store)),
        "sweep": _sibyl("sweep", str(base / "nightly.toml"), "--store", str(store),
                        "--shard", "0/2"),
    }  # fmt: skip
    procs = {}
    for name, cmd in jobs.items():  # one at a time: see harness/sweep.py wait_started
        before = set(runindex.run_dirs(store)) if store.is_dir() else set()
        with (out / f"{name}.log").open("w") as log:
            procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                           stderr=subprocess.STDOUT)  # fmt: skip
        store.mkdir(exist_ok=True)
        wait_started(store, before, procs[name])
    _wait_for_histories(store, 4)  # the sweep's second cell too
    crashed = _crashed_run(base / "crash-store", env, out)
    status = {name: p.wait(timeout=240) for name, p in procs.items()}
    for name, want in (("invalid", 1), ("register", 1)):
        log = (out / f"{name}.log").read_text()
        assert status[name] == want, f"{name} exited {status[name]}, not {want}:\n{log[-3000:]}"
    indexed = _indexed(store)
    # The crashed run joins the store the way a shard from another machine would.
    cmd = _sibyl("index", "--store", str(store), "--merge", str(crashed.parents[1]))
    merged = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert merged.returncode == 0, merged.stderr
    # Found by content, not path: a merged run whose path is taken gets a -mN suffix.
    carts = [d for d in store.glob("cart-sloppy-siblings/2*") if not d.is_symlink()]
    (dest,) = [d for d in carts if json.loads((d / "results.json").read_text()).get("crashed")]
    return StoredRuns(store, _only(store, "cart-sloppy-lww"), _only(store, "register-*"),
                      sorted(d for d in carts if d != dest), dest,
                      status["sweep"], indexed, merged.stdout)  # fmt: skip


def _indexed(store: Path) -> int:
    """Rows in the store's index as the runs themselves left it (no `sibyl index` yet)."""
    import sqlite3

    db = sqlite3.connect(store / "index.sqlite")
    try:
        return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    finally:
        db.close()


def _wait_for_histories(store: Path, n: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(list(store.glob("*/2*/history.jsonl"))) < n:
        time.sleep(0.2)


def _only(store: Path, pattern: str) -> Path:
    (found,) = [d for d in store.glob(f"{pattern}/2*") if not d.is_symlink()]
    return found


def ctrl_c_once_recording(
    cmd: list[str], store: Path, min_bytes: int, **popen: Any
) -> tuple[int, Path]:
    """Starts `cmd` (a `sibyl run` into `store`), sends Ctrl-C once its history holds
    `min_bytes`; returns the exit status and the history file."""
    proc = subprocess.Popen(cmd, **popen)
    try:
        history = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            found = list(store.glob("*/*/history.jsonl"))
            if found and found[0].stat().st_size > min_bytes:
                history = found[0]
                break
            time.sleep(0.2)
        assert history is not None, "the run never started recording"
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=60), history
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _crashed_run(store: Path, env: dict[str, str], out: Path) -> Path:
    """A run interrupted with Ctrl-C once it has recorded some history (exit 255)."""
    cmd = _sibyl("run", "--time-limit", "60", "--seed", "5", "--nemesis", "partition",
                 "--store", str(store))  # fmt: skip
    with (out / "crash.log").open("w") as log:
        status, history = ctrl_c_once_recording(cmd, store, 20_000, cwd=ROOT, env=env,
                                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    assert status == 255, (out / "crash.log").read_text()[-3000:]
    run_dir = history.parent
    assert json.loads((run_dir / "results.json").read_text())["crashed"] is True
    return run_dir
