"""Nightly sweeps: a matrix of workloads x nemeses x seeds, sharded, run with bounded parallelism.

A sweep file (TOML) names the matrix and the options every run shares:

    name = "nightly"
    parallel = 2
    [matrix]
    workloads = ["cart", "register"]
    nemeses = ["partition", "clock", "partition,kill"]
    seeds = [1, 2, 3]
    [options]          # any `sibyl run` option, by its flag name
    time_limit = 30
    mode = "sloppy"

The cells are the product, in a fixed order; shard I of N (0-based) takes
cells I, I+N, I+2N, ... so N machines (a CI matrix, a Kubernetes Indexed
Job) split one matrix with no coordination. Each cell is an ordinary `sibyl
run` writing an ordinary run directory, tagged with `sweep.json` so the index
knows which expected cell it fills.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import subprocess
import sys
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import runindex

OPTIONS = {"nodes", "time_limit", "rate", "concurrency", "mode", "conflict", "n", "r", "w",
           "quiesce", "intercept"}  # fmt: skip
MATRIX = {"workloads", "nemeses", "seeds"}


class SweepError(ValueError):
    """A sweep file or shard that cannot be run; the message names the field."""


@dataclass(frozen=True)
class CellRun:
    """One cell of the matrix: what to run."""

    workload: str
    nemesis: str
    seed: int

    @property
    def key(self) -> str:
        return f"{self.workload}/{self.nemesis}/seed{self.seed}"


@dataclass
class Sweep:
    """A parsed sweep file."""

    name: str
    cells: list[CellRun]
    options: dict[str, Any] = field(default_factory=dict)
    parallel: int = 1


def load(path: Path) -> Sweep:
    """Reads a sweep file; raises SweepError naming the file and the field."""
    try:
        raw = tomllib.loads(path.read_text())
    except OSError as e:
        raise SweepError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path} is not valid TOML: {e}") from None
    matrix = raw.get("matrix") or {}
    unknown = (set(matrix) - MATRIX) | (set(raw.get("options") or {}) - OPTIONS)
    if unknown:
        raise SweepError(f"{path}: unknown field(s) {sorted(unknown)}; the matrix takes "
                         f"{sorted(MATRIX)}, options take {sorted(OPTIONS)}")  # fmt: skip
    workloads = _strings(matrix, "workloads", path, ["cart"])
    nemeses = _strings(matrix, "nemeses", path, ["partition"])
    seeds = matrix.get("seeds", [1])
    if isinstance(seeds, int):
        seeds = list(range(1, seeds + 1))
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
        raise SweepError(f"{path}: matrix.seeds must be a list of integers or a count")
    parallel = raw.get("parallel", 1)
    if not isinstance(parallel, int) or parallel < 1:
        raise SweepError(f"{path}: parallel must be a positive integer")
    cells = [CellRun(w, n, s) for w, n, s in itertools.product(workloads, nemeses, seeds)]
    return Sweep(str(raw.get("name") or path.stem), cells, dict(raw.get("options") or {}),
                 parallel)  # fmt: skip


def _strings(matrix: dict[str, Any], name: str, path: Path, default: list[str]) -> list[str]:
    v = matrix.get(name, default)
    if not (isinstance(v, list) and v and all(isinstance(x, str) for x in v)):
        raise SweepError(f"{path}: matrix.{name} must be a non-empty list of strings")
    return v


def parse_shard(text: str | None, index_env: str | None) -> tuple[int, int]:
    """`--shard I/N` (0-based I), or I from JOB_COMPLETION_INDEX with `--shard N`."""
    if text is None:
        return (0, 1)
    try:
        if "/" in text:
            i, n = (int(x) for x in text.split("/", 1))
        else:
            n, i = int(text), int(index_env if index_env is not None else "x")
    except ValueError:
        raise SweepError(f"--shard {text!r}: expected I/N (e.g. 0/4), or N with "
                         "JOB_COMPLETION_INDEX set") from None  # fmt: skip
    if not (n >= 1 and 0 <= i < n):
        raise SweepError(f"--shard {text!r}: need 0 <= I < N")
    return (i, n)


def shard(cells: list[CellRun], i: int, n: int) -> list[CellRun]:
    return cells[i::n]


def run_sweep(sweep: Sweep, store: Path, sweep_id: str, part: tuple[int, int]) -> int:
    """Runs this shard's cells; returns the exit status (255 crashed > 1 invalid > 2 unknown)."""
    store.mkdir(parents=True, exist_ok=True)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    runindex.expect(store, [runindex.Cell(sweep_id, c.key, _config_key(c, sweep.options), c.seed,
                                          today) for c in sweep.cells])  # fmt: skip
    mine = shard(sweep.cells, *part)
    print(f"sweep {sweep_id}: shard {part[0]}/{part[1]} runs {len(mine)} of "
          f"{len(sweep.cells)} cells, {sweep.parallel} at a time", flush=True)  # fmt: skip
    with ThreadPoolExecutor(max_workers=sweep.parallel) as pool:
        verdicts = list(pool.map(lambda c: _run_cell(c, sweep, store, sweep_id), mine))
    for v in ("crashed", "invalid", "unknown"):
        if v in verdicts:
            return {"crashed": 255, "invalid": 1, "unknown": 2}[v]
    return 0


def _config_key(c: CellRun, options: dict[str, Any]) -> str:
    return runindex.config_key({"workload": c.workload, "nemesis": c.nemesis.split(","),
                                "mode": options.get("mode", "sloppy"),
                                "conflict": options.get("conflict", "siblings"),
                                "nodes": options.get("nodes", 5)})  # fmt: skip


def command(c: CellRun, options: dict[str, Any], store: Path) -> list[str]:
    """The `sibyl run` command line of one cell."""
    cmd = [sys.executable, "-m", "harness.cli", "run", "--workload", c.workload,
           "--nemesis", c.nemesis, "--seed", str(c.seed), "--store", str(store)]  # fmt: skip
    for k, v in sorted(options.items()):
        for one in v if isinstance(v, list) else [v]:
            cmd += [f"--{k.replace('_', '-')}", str(one)]
    return cmd


_STARTING = threading.Lock()
START_TIMEOUT_S = 60.0


def _run_cell(c: CellRun, sweep: Sweep, store: Path, sweep_id: str) -> str:
    before = set(runindex.run_dirs(store))
    t = time.monotonic()
    log = store / "sweeps" / f"{sweep_id}-{c.key.replace('/', '_')}.log"
    with log.open("w") as out:
        # Runs start one at a time: a cluster picks free ports and binds them a moment later,
        # so two clusters starting together could pick the same port.
        with _STARTING:
            proc = subprocess.Popen(command(c, sweep.options, store), stdout=out,
                                    stderr=subprocess.STDOUT)  # fmt: skip
            wait_started(store, before, proc)
        status = proc.wait()
    run_dir = _new_run(store, before, c)
    if run_dir is None:
        print(f"  {c.key}: no run directory (exit {status}); see {log}", flush=True)
        return "crashed"
    (run_dir / "sweep.json").write_text(json.dumps({"sweep": sweep_id, "cell": c.key}) + "\n")
    runindex.record_run(run_dir, store)
    verdict = runindex.verdict(json.loads((run_dir / "results.json").read_text()))
    print(f"  {c.key}: {verdict} in {time.monotonic() - t:.0f} s -> {run_dir}", flush=True)
    return verdict


def wait_started(store: Path, before: set[Path], proc: subprocess.Popen[bytes]) -> None:
    """Waits until `proc` has a run directory recording history (its nodes are listening),
    exits, or START_TIMEOUT_S passes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and proc.poll() is None:
        if any((d / "history.jsonl").is_file() for d in set(runindex.run_dirs(store)) - before):
            return
        time.sleep(0.1)


def _new_run(store: Path, before: set[Path], c: CellRun) -> Path | None:
    for d in sorted(set(runindex.run_dirs(store)) - before):
        cfg = json.loads((d / "config.json").read_text())
        if (cfg.get("workload"), ",".join(cfg.get("nemesis") or []) or "none", cfg.get("seed")) \
                == (c.workload, c.nemesis, c.seed) and (d / "results.json").is_file():  # fmt: skip
            return d
    return None
