"""`sibyl sim` speed, bug-finding rate and shrinking, next to `sibyl run` on the same bugs.

Reported, all measured in this run:

* simulated seconds per wall second, and per CPU second, in a fresh process per
  seed (one core) on the default workload (cart, 5 nodes, default nemesis, 100 ops/s over
  5 clients), for `--seeds` seeds; the anchor is real time (1x), which `sibyl
  run` cannot beat; the same for git `--baseline` (default main), seed by seed
  in turns with this tree, so a before/after pair shares the machine's load,
  and whether every seed's history and trace digest are identical in every
  variant, the baseline's too (they are when the
  baseline is the commit a speed-up was made on, or merged onto: a speed-up
  must not change what is simulated). This tree runs as `sibyl sim`'s workers
  run it (the node's mypyc build when current, native/__init__.py) and, with
  `--sources`, also from its sources; the baseline runs its own build (made in
  a virtualenv of its own, in this run); each line says which build ran;
* the same figures for one process running every seed in turn, warm, as a `sibyl sim`
  worker does (the lines above start a fresh process per seed);
* seeds per minute over every core (`harness.sim_batch`, one process per core),
  for this tree and the baseline;
* per planted bug: which seeds fail on the simulator (10 virtual s each) and
  on real processes (`sibyl run`, 10 s each, `--real-seeds` seeds), with the
  wall time of each (the first failing seed is the seeds-until-failure);
* the shrink of the first failing simulated seed of the first bug: faults and
  ops before and after, simulations used, and its wall time.

    .venv/bin/python benchmarks/sim_speed.py [--seeds 6] [--bug-seeds 12] [--real-seeds 3]
        [--baseline main] [--speed-only] [--sources]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.sim_batch import BatchJob, run_seeds  # noqa: E402
from harness.sim_runner import SimSpec  # noqa: E402

BUGS = ("tests.intercepts.restart_ignores_syncs", "tests.intercepts.sync_overwrites")


# Run in a child process, in the tree being measured (this one, or the baseline's).
_ONE_SEED = """
import hashlib, importlib, json, sys, time
from checkers.history import dump_op
from harness.sim_runner import SimSchedule, SimSpec, planned_faults, simulate
spec, seed = SimSpec(), int(sys.argv[1])
cpu = time.process_time()
r = simulate(spec, SimSchedule(seed, planned_faults(spec, seed)))
cpu = time.process_time() - cpu
history = hashlib.sha256("\\n".join(map(dump_op, r.history)).encode()).hexdigest()
compiled = not str(importlib.import_module("node.core").__file__).endswith(".py")
trace_format = getattr(importlib.import_module("node.sim.cluster"), "TRACE_FORMAT", 1)
print(json.dumps({"sim_s": r.sim_s, "wall_s": r.wall_s, "cpu_s": cpu, "history": history,
                  "digest": f"{trace_format}:{r.digest}",
                  "compiled": compiled}))
"""
# One process over every seed, in turn, as a `sibyl sim` worker runs its share.
_ONE_PROCESS = """
import json, sys, time
from harness.sim_runner import SimSchedule, SimSpec, planned_faults, simulate
spec, sim_s, wall_s, cpu_s = SimSpec(), 0.0, 0.0, 0.0
for seed in range(1, int(sys.argv[1]) + 1):
    cpu, wall = time.process_time(), time.perf_counter()
    r = simulate(spec, SimSchedule(seed, planned_faults(spec, seed)))
    cpu_s += time.process_time() - cpu
    wall_s += time.perf_counter() - wall
    sim_s += r.sim_s
print(json.dumps({"sim_s": sim_s, "wall_s": wall_s, "cpu_s": cpu_s}))
"""
_ALL_CORES = """
import json, os, sys, tempfile, time
from harness.sim_batch import BatchJob, run_seeds
from harness.sim_runner import SimSpec
with tempfile.TemporaryDirectory() as store:
    t0 = time.monotonic()
    lines = run_seeds(BatchJob(SimSpec(), store), list(range(1, int(sys.argv[1]) + 1)),
                      os.cpu_count() or 1, lambda _: None)
    wall = time.monotonic() - t0
print(json.dumps({"seeds": len(lines), "wall_s": wall, "sim_s": sum(x["sim_s"] for x in lines),
                  "compiled": all(x.get("compiled", False) for x in lines)}))
"""


NATIVE = {"SIBYL_NATIVE_NODE": "1"}
"""What `sibyl sim` sets in its workers (harness/sim_batch.py): the node's build if current."""
SOURCES = {"SIBYL_NO_MYPYC": "1"}
"""No build at all, in any process (the workers of `all_cores` too)."""


def in_tree(tree: Path, code: str, arg: int, env_extra: dict[str, str] | None = None,
            python: str = sys.executable) -> dict[str, Any]:  # fmt: skip
    """Runs `code` with `arg` in a fresh interpreter in `tree`; its one JSON line."""
    env = {**os.environ, "PYTHONPATH": str(tree), **(env_extra or {})}
    proc = subprocess.run([python, "-c", code, str(arg)], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=3600)  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"the simulator in {tree} failed: {proc.stderr.strip()[-500:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


Trees = dict[str, tuple[Path, dict[str, str], str]]
"""Name -> (tree, environment, interpreter) of each variant measured."""


def one_core(trees: Trees, seeds: int) -> None:
    """Simulated s per wall s and per CPU s of one process, seed by seed, the trees taking
    turns (so both see the same load)."""
    totals = {name: {"sim_s": 0.0, "wall_s": 0.0, "cpu_s": 0.0} for name in trees}
    histories: dict[str, list[str]] = {name: [] for name in trees}
    digests: dict[str, list[str]] = {name: [] for name in trees}
    builds: dict[str, set[bool]] = {name: set() for name in trees}
    for seed in range(1, seeds + 1):
        for name, (tree, env, python) in trees.items():
            r = in_tree(tree, _ONE_SEED, seed, env, python)
            histories[name].append(r.pop("history"))
            digests[name].append(r.pop("digest"))  # "format:digest"
            builds[name].add(bool(r.pop("compiled")))
            for k, v in r.items():
                totals[name][k] += float(v)
    for name, t in totals.items():
        print(
            f"one core, {name} (node: {_build(builds[name])}): {t['sim_s']:.0f} simulated s "
            f"in {t['wall_s']:.1f} wall s = "
            f"{t['sim_s'] / t['wall_s']:.1f}x real time, {t['sim_s'] / t['cpu_s']:.1f}x per CPU "
            f"second (anchor: sibyl run = 1x), {seeds} seeds of {SimSpec().time_limit_s:g} s chaos"
        )
    if len(trees) > 1:  # a speed-up must not change what is simulated
        same = len({tuple(h) for h in histories.values()}) == 1
        print(f"histories (ops and virtual times) of every seed identical across trees: {same}")
        by_format: dict[str, dict[str, tuple[str, ...]]] = {}
        for name, ds in digests.items():
            by_format.setdefault(ds[0].partition(":")[0], {})[name] = tuple(ds)
        for fmt, runs in sorted(by_format.items()):
            same = len(set(runs.values())) == 1
            print(f"trace digests (every event) of every seed identical across the trees of "
                  f"trace format {fmt} ({', '.join(runs)}): {same}")  # fmt: skip
        if len(by_format) > 1:
            print("(digests of different trace formats are not comparable: "
                  "node/sim/cluster.py TRACE_FORMAT)")  # fmt: skip


def one_process(trees: Trees, seeds: int) -> None:
    """The same seeds run back to back in one process per tree, warm, as a `sibyl sim`
    worker runs them (`one_core` starts a process per seed: each pays a cold start)."""
    for name, (tree, env, python) in trees.items():
        r = in_tree(tree, _ONE_PROCESS, seeds, env, python)
        print(
            f"one core, one process over the {seeds} seeds (as a sibyl sim worker), {name}: "
            f"{r['sim_s'] / r['wall_s']:.1f}x real time, {r['sim_s'] / r['cpu_s']:.1f}x per "
            "CPU second"
        )


def _build(compiled: set[bool]) -> str:
    return {frozenset({True}): "mypyc-compiled", frozenset({False}): "Python"}.get(
        frozenset(compiled), "mixed"
    )


def all_cores(trees: Trees, seeds: int) -> None:
    for name, (tree, env, python) in trees.items():
        r = in_tree(tree, _ALL_CORES, seeds, env, python)
        print(
            f"{os.cpu_count() or 1} processes, {name} (node: {_build({r['compiled']})}): "
            f"{r['seeds']:.0f} seeds in "
            f"{r['wall_s']:.1f}s = {60 * r['seeds'] / r['wall_s']:.1f} seeds/min, "
            f"{r['sim_s'] / r['wall_s']:.1f}x real time over all cores"
        )


def baseline_tree(ref: str, into: str) -> Path:
    """The files of git `ref` (e.g. main, before an optimisation) in a directory under `into`."""
    tree = Path(into) / "baseline"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], capture_output=True,
                             timeout=300)  # fmt: skip
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {ref}: git archive failed: {archive.stderr.decode()[-300:]}")
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True, timeout=300)
    return tree


def baseline_python(tree: Path, into: str) -> str:
    """An interpreter for the baseline with the baseline's own mypyc build, so that it runs
    as `sibyl sim`'s workers run it: a virtualenv under `into` that sees this one's packages
    (the build lives in `sys.prefix`, one per tree). This interpreter, whose build matches
    this tree only, if the build fails: the baseline's lines then say its node ran as Python."""
    venv = Path(into) / "baseline-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=300)  # fmt: skip
    python = str(venv / "bin" / "python")
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    purelib = subprocess.run([python, "-c", where], capture_output=True, text=True, check=True,
                             timeout=60)  # fmt: skip
    ours = [p for p in sys.path if p.endswith("site-packages")]
    Path(purelib.stdout.strip(), "sibyl-benchmark-parent.pth").write_text("\n".join(ours) + "\n")
    print(f"building the mypyc build of the baseline in {venv} ...", flush=True)
    env = {**os.environ, "PYTHONPATH": str(tree)}
    build = subprocess.run([python, "-m", "native"], cwd=tree, env=env, capture_output=True,
                           text=True, timeout=3600)  # fmt: skip
    if build.returncode != 0 or "compiled" not in build.stdout:
        print(f"the baseline's build failed: {build.stderr.strip()[-300:]}")
        return sys.executable
    return python


def sim_failures(bug: str, seeds: int, store: str) -> tuple[list[int], float]:
    """The failing seeds among 1..seeds on the simulator, and the wall time."""
    t0 = time.monotonic()
    spec = SimSpec(time_limit_s=10.0)
    lines = run_seeds(BatchJob(spec, store, (bug,)), list(range(1, seeds + 1)),
                      os.cpu_count() or 1, lambda _: None)  # fmt: skip
    return [line["seed"] for line in lines if line["valid"] is False], time.monotonic() - t0


def real_failures(bug: str, seeds: int, store: str) -> tuple[list[int], float]:
    """The failing seeds among 1..seeds with `sibyl run` (10 s of chaos), and the wall time."""
    t0 = time.monotonic()
    failing = []
    for seed in range(1, seeds + 1):
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--time-limit", "10",
                               "--seed", str(seed), "--quiesce", "3", "--store", store,
                               "--intercept", bug], cwd=ROOT, capture_output=True, text=True,
                              timeout=600)  # fmt: skip
        if proc.returncode == 1:
            failing.append(seed)
    return failing, time.monotonic() - t0


def shrink_first(bug: str, store: str) -> None:
    runs = sorted(Path(store).glob("*restart_ignores_syncs-sim/2*"))
    if not runs:
        print("shrink: no failing simulated run to shrink")
        return
    out = Path(store) / "shrunk.json"
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "shrink", str(runs[0]),
                           "--max-runs", "60", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)  # fmt: skip
    doc = json.loads(out.read_text()) if out.is_file() else {}
    print(
        f"shrink of {runs[0].name} ({bug}): {doc.get('summary', proc.stdout[-300:])}; "
        f"wall {time.monotonic() - t0:.1f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--bug-seeds", type=int, default=12)
    ap.add_argument("--real-seeds", type=int, default=3)
    ap.add_argument("--baseline", default="main", metavar="REF",
                    help="also measure the simulator speed of git REF, in the same run "
                         "(default main; '' for none)")  # fmt: skip
    ap.add_argument(
        "--sources",
        action="store_true",
        help="also measure this tree with the node from its sources (not its mypyc build)",
    )
    ap.add_argument(
        "--speed-only",
        action="store_true",
        help="measure only the speed, not the bugs and the shrink",
    )
    args = ap.parse_args()
    os.chdir(ROOT)
    with tempfile.TemporaryDirectory() as store:
        trees: Trees = {"this tree": (ROOT, NATIVE, sys.executable)}
        if args.sources:
            trees["this tree, sources"] = (ROOT, SOURCES, sys.executable)
        if args.baseline:
            base = baseline_tree(args.baseline, store)
            trees[args.baseline] = (base, NATIVE, baseline_python(base, store))
        one_core(trees, args.seeds)
        one_process(trees, args.seeds)
        all_cores(trees, args.seeds * 2)
        if args.speed_only:
            return
        for bug in BUGS:
            sim, sim_s = sim_failures(bug, args.bug_seeds, store)
            real, real_s = real_failures(bug, args.real_seeds, store)
            print(
                f"{bug}: simulator: seeds {sim} of 1..{args.bug_seeds} fail ({sim_s:.0f}s "
                f"wall); sibyl run: seeds {real} of 1..{args.real_seeds} fail ({real_s:.0f}s wall)"
            )
        shrink_first(BUGS[0], store)


if __name__ == "__main__":
    main()
