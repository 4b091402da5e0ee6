"""A writer killed with kill -9 mid-stream loses no write it had acknowledged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from node.storage import SQLiteStorage

WRITER = """
import sys
from node.storage import SQLiteStorage
s = SQLiteStorage(sys.argv[1])
i = 0
while True:
    s.write([("", f"k{i}", b"v%d" % i)])
    print(i, flush=True)  # the acknowledgement: printed only after write() returned
    i += 1
"""


def test_kill_9_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "node.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True
    )
    acked = -1
    deadline = time.monotonic() + 60
    try:
        assert proc.stdout is not None
        while acked < 200 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert acked >= 200, f"writer acknowledged only {acked + 1} writes before the deadline"
    store = SQLiteStorage(db)
    try:
        missing = [i for i in range(acked + 1) if store.read(f"k{i}") != b"v%d" % i]
    finally:
        store.close()
    assert missing == []
