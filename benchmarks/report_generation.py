"""Report generation for a 200k-op history, and `sibyl serve`'s index time for 1,000 runs.

1. Generates a cart history of about `--ops` ops (default 200,000) with the
   reference model (workloads/reference.py), removes every 50th item from the
   final reads (so lost_adds finds losses to explain, as an LWW run would),
   runs the four Dynamo checkers, then times writing results.json, junit.xml
   and report.html into a run directory (harness/report.py write_all), and
   reports the page's size. Goal: <= 10 s and <= 5 MB.
2. Copies that run directory 1,000 times into a store and times `sibyl
   index` (runindex.rebuild), then the runs page and the trends page.

Anchors, measured in the same run: reading the history back from JSON Lines
(the least a report of that history must do), and json.loads of the 1,000
results.json files (the least an index of them must do).

    .venv/bin/python benchmarks/report_generation.py [--ops N] [--runs N] [--drop P]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checkers import causality, convergence, lost_adds, staleness  # noqa: E402
from checkers.history import Op, read_jsonl, write_jsonl  # noqa: E402
from harness import runindex, site  # noqa: E402
from harness.report import write_all  # noqa: E402
from workloads.reference import ReferenceConfig, generate  # noqa: E402

GOAL_S, GOAL_BYTES = 10.0, 5 * 2**20


def lose_items(history: list[Op], every: int = 50) -> list[Op]:
    """The history with every `every`-th item missing from the final reads (lost adds)."""
    out = []
    for op in history:
        if op.extra.get("final") and op.siblings:
            sibs = [{**s, "items": [i for i in s["items"] if i % every]} for s in op.siblings]
            op = dataclasses.replace(op, siblings=sibs)
        out.append(op)
    return out


def make_run(base: Path, n_ops: int, drop: float) -> Path:
    """A run directory with a generated history, config, schedule and checker results."""
    run = base / "store" / "cart-sloppy-siblings" / "20260101T000000"
    run.mkdir(parents=True)
    t = time.perf_counter()
    history = lose_items(generate(ReferenceConfig(n_ops=n_ops, drop_p=drop), seed=1))
    print(f"generated {len(history):,} history ops in {time.perf_counter() - t:.1f} s")
    write_jsonl(history, run / "history.jsonl")
    config = {"workload": "cart", "nodes": 5, "nemesis": ["partition"], "mode": "sloppy",
              "conflict": "siblings", "seed": 1, "time_limit_s": 60}  # fmt: skip
    (run / "config.json").write_text(json.dumps(config))
    (run / "command.txt").write_text("sibyl run --seed 1\n")
    t = time.perf_counter()
    results = {name: check(history, time_limit_s=600.0) for name, check in (
        ("lost_adds", lost_adds.check), ("causality", causality.check),
        ("convergence", convergence.check), ("staleness", staleness.check))}  # fmt: skip
    verdicts = [f"{n} {r.valid} {r.stats.get('anomaly_counts')}" for n, r in results.items()]
    print(f"checked in {time.perf_counter() - t:.1f} s: {', '.join(verdicts)}")
    anchor = time.perf_counter()
    read_back = read_jsonl(run / "history.jsonl")
    anchor = time.perf_counter() - anchor
    stats = {"ops_completed": n_ops // 2, "ok": 0, "fail": 0, "info": 0, "chaos_s": 60,
             "ops_per_s": n_ops / 120}  # fmt: skip
    meta = {"test": "cart-sloppy-siblings", "seed": 1, "command": "sibyl run --seed 1",
            "config": config, "stats": stats}  # fmt: skip
    t = time.perf_counter()
    write_all(run, results, meta, [], read_back)
    took = time.perf_counter() - t
    size = (run / "report.html").stat().st_size
    print(
        f"report for {len(read_back):,} history ops: {took:.2f} s (goal <= {GOAL_S:g} s), "
        f"report.html {size / 2**20:.2f} MB (goal <= {GOAL_BYTES / 2**20:g} MB), "
        f"results.json {(run / 'results.json').stat().st_size / 2**20:.2f} MB"
    )
    print(
        f"  anchor: reading the history back from JSON Lines took {anchor:.2f} s "
        f"(report / anchor = {took / anchor:.1f}x)"
    )
    return run


def index_runs(run: Path, n_runs: int) -> None:
    """Copies `run` (without its history) `n_runs` times into a store and indexes it.

    The copies' results.json keep every anomaly but at most 5 faults in each (the
    reference model's faults overlap every anomaly, which a real run's do not), so
    each is about the size of a real 20 s run's (~200 kB), not 5 MB.
    """
    store = run.parents[2] / "big-store"
    doc = json.loads((run / "results.json").read_text())
    for r in doc["checkers"].values():
        for a in r["anomalies"]:
            a["faults"] = a.get("faults", [])[:5]
    results = json.dumps(doc, indent=2)
    print(f"indexing {n_runs:,} copies of a {len(results) / 1000:.0f} kB results.json")
    for k in range(n_runs):
        dest = (
            store
            / "cart-sloppy-siblings"
            / f"20260101T{k // 3600:02d}{k // 60 % 60:02d}{k % 60:02d}"
        )
        dest.mkdir(parents=True)
        (dest / "results.json").write_text(results)
        for name in ("config.json", "command.txt"):
            shutil.copy(run / name, dest / name)
    anchor = time.perf_counter()
    for d in runindex.run_dirs(store):
        json.loads((d / "results.json").read_text())
    anchor = time.perf_counter() - anchor
    t = time.perf_counter()
    n = runindex.rebuild(store)
    took = time.perf_counter() - t
    db = sqlite3.connect(store / runindex.INDEX)
    t = time.perf_counter()
    page = site.runs_page(db)
    runs_s = time.perf_counter() - t
    t = time.perf_counter()
    site.trends_page(db)
    trends_s = time.perf_counter() - t
    db.close()
    print(
        f"sibyl index of {n:,} runs: {took:.2f} s; runs page {runs_s * 1000:.0f} ms "
        f"({len(page) / 2**20:.2f} MB), trends page {trends_s * 1000:.0f} ms"
    )
    print(
        f"  anchor: json.loads of the {n:,} results.json files took {anchor:.2f} s "
        f"(index / anchor = {took / anchor:.1f}x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ops", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--drop", type=float, default=0.0, help="message drop probability")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="sibyl-bench-report-"))
    try:
        run = make_run(base, args.ops, args.drop)
        index_runs(run, args.runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
