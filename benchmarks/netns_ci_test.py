"""How long the netns CI test takes, against the same `sibyl run` on the local lab (the anchor).

Root only. It times `pytest tests/integration/test_netns_lab.py -k sibyl_run`
(lab up, deploy over SSH, a 16 s run with a partition, a pause, a clock bump
and a kill, checks, lab down) and then the same `sibyl run` options on the local
lab, in the same session. Usage (root):

    .venv/bin/python benchmarks/netns_ci_test.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(argv: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, cwd=REPO, check=True, capture_output=True, text=True, timeout=900)
    return time.monotonic() - started


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("netns_ci_test.py needs root (the netns CI test runs only as root)")
    test = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "tests/integration/test_netns_lab.py", "-k", "sibyl_run"]  # fmt: skip
    netns_s = timed(test)
    with tempfile.TemporaryDirectory(prefix="sibyl-ci-bench-") as tmp:
        local = [sys.executable, "-m", "harness.cli", "run", "--nodes", "3", "--time-limit", "16",
                 "--seed", "66", "--quiesce", "2", "--store", tmp]  # fmt: skip
        local_s = timed(local)
    print(f"netns CI test (pytest, lab up + deploy + 16 s run + down): {netns_s:6.1f} s")
    print(f"anchor: the same sibyl run on the local lab:               {local_s:6.1f} s")
    print(f"({os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
