"""Many seeds on every core: one simulator process per job, each over a share of the seeds.

`run_seeds` starts `jobs` processes of `harness.sim_worker` (each imports the
intercepts itself), gives process i the seeds i, i+jobs, i+2*jobs, ..., and
reads their JSON lines as they come, calling `on_line` for each (progress). No
pickle crosses the process boundary: jobs go out and summaries come back as
JSON. A worker that dies is reported with its stderr, never ignored.

Without intercepts, the workers run the node's mypyc build if it is current
(`native.OPT_IN`: they are fresh interpreters, so they import it themselves,
whatever this process imported); with one, they run its sources, which the
planted bug patches. Each line says which ran (`compiled`).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import native
from harness.runner import intercept_env
from harness.sim_runner import SimSpec


class WorkerCrashed(RuntimeError):
    """A simulator process exited without finishing its seeds."""


@dataclass
class BatchJob:
    spec: SimSpec
    store: str
    intercepts: tuple[str, ...] = ()
    check_determinism: bool = False


def run_seeds(
    job: BatchJob, seeds: Sequence[int], jobs: int, on_line: Callable[[dict[str, Any]], None]
) -> list[dict[str, Any]]:
    """Simulates every seed; returns the summary lines in seed order."""
    jobs = max(1, min(jobs, len(seeds)))
    env = {**os.environ, **intercept_env(job.intercepts), **native_env(job.intercepts)}
    lines: queue.Queue[tuple[int, str | None]] = queue.Queue(maxsize=1024)
    procs = []
    for i in range(jobs):
        doc = {
            "spec": job.spec.to_dict(),
            "seeds": list(seeds[i::jobs]),
            "store": job.store,
            "intercepts": list(job.intercepts),
            "check_determinism": job.check_determinism,
        }
        # stderr to a file: a chatty worker must not block on a full pipe nobody reads.
        err = tempfile.TemporaryFile("w+")
        p = subprocess.Popen(
            [sys.executable, "-m", "harness.sim_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
        )
        assert p.stdin is not None
        p.stdin.write(json.dumps(doc))
        p.stdin.close()
        threading.Thread(target=_pump, args=(i, p, lines), daemon=True).start()
        procs.append((p, err))
    out: list[dict[str, Any]] = []
    try:
        open_ = jobs
        while open_:
            i, text = lines.get()
            if text is None:
                open_ -= 1
                continue
            line = json.loads(text)
            out.append(line)
            on_line(line)
    finally:
        for p, _ in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    _check_exits(procs, len(out), len(seeds))
    return sorted(out, key=lambda line: line["seed"])


def native_env(intercepts: tuple[str, ...]) -> dict[str, str]:
    """The environment that lets a worker run the compiled node: only without intercepts
    (a planted bug patches the node's sources; native/__init__.py)."""
    name = native.OPT_IN["node"]
    return {name: "0" if intercepts else "1"}


def _pump(i: int, p: subprocess.Popen[str], lines: queue.Queue[tuple[int, str | None]]) -> None:
    assert p.stdout is not None
    for text in p.stdout:
        lines.put((i, text))
    lines.put((i, None))


def _check_exits(procs: list[tuple[subprocess.Popen[str], Any]], got: int, wanted: int) -> None:
    for p, err in procs:
        err.seek(0)
        tail = err.read().strip().splitlines()[-5:]
        err.close()
        if p.returncode != 0:
            raise WorkerCrashed(f"a simulator process exited with {p.returncode}: "
                                + " | ".join(tail))  # fmt: skip
    if got != wanted:
        raise WorkerCrashed(f"the simulator processes reported {got} of {wanted} seeds")
