"""One simulator process: runs its share of the seeds and prints one JSON line per seed.

Started by `harness.sim_batch` as `python -m harness.sim_worker`, with the job
as JSON on stdin (spec, seeds, store, intercepts, check_determinism). It
imports the intercepts first, so a planted bug applies to every node it
simulates. A failing seed (a checker found an anomaly, or two runs of it
differed) gets an ordinary run directory; its line names it.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import sys
from typing import Any

import native
from harness.errors import UsageError
from harness.sim_runner import SimResult, SimSchedule, SimSpec, planned_faults, simulate
from harness.sim_store import write_run


def import_intercepts(modules: tuple[str, ...]) -> None:
    """Imports the planted bugs (from the working directory too, as the nodes of `sibyl run` do);
    UsageError (exit 254) names one that cannot be imported."""
    if modules and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    if modules and any(native.in_use("node").values()):  # a patch would not take
        raise RuntimeError("the node runs mypyc-compiled here: planted bugs cannot patch it")
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:  # a stored run's intercept, read back from elsewhere
            raise UsageError(
                f"intercept {module}: cannot import it from {os.getcwd()} ({e}); run from the "
                "repository root, where tests/intercepts lives"
            ) from None


def run_seed(
    spec: SimSpec, seed: int, store: str, intercepts: tuple[str, ...], check_determinism: bool
) -> dict[str, Any]:
    """Simulates `seed` (twice with `check_determinism`); the summary line for it."""
    schedule = SimSchedule(seed, planned_faults(spec, seed))
    result = simulate(spec, schedule)
    line = _summary(result)
    if check_determinism:
        again = simulate(spec, schedule)
        line["digest_again"] = again.digest
        line["deterministic"] = again.digest == result.digest
        line["wall_s"] += again.wall_s
    if result.valid is False or line.get("deterministic") is False:
        note = (
            ""
            if line.get("deterministic", True)
            else (f"NOT deterministic: a second run gave trace digest {line['digest_again'][:16]}")
        )
        line["run_dir"] = str(write_run(spec, result, schedule, store, intercepts, note))
    return line


def _summary(r: SimResult) -> dict[str, Any]:
    return {"seed": r.seed, "valid": r.valid, "failing": r.failing(), "digest": r.digest,
            "sim_s": r.sim_s, "wall_s": r.wall_s, "faults": len(r.realised),
            "ops": sum(len(v) for v in r.ops.values()),
            "compiled": all(native.in_use("node").values())}  # fmt: skip


def main() -> int:
    job = json.load(sys.stdin)
    intercepts = tuple(job.get("intercepts", ()))
    import_intercepts(intercepts)
    gc.freeze()  # what the imports made lives as long as the process: no collection scans it
    spec = SimSpec.from_dict(job["spec"])
    for seed in job["seeds"]:
        line = run_seed(spec, seed, job["store"], intercepts, bool(job.get("check_determinism")))
        print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
