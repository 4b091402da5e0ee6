"""Both Storage implementations pass the conformance kit (tests/support/storage_kit.py).

SQLite crashes for real: a child process commits some writes, leaves others
in an open transaction and kills itself with SIGKILL. The memory store
crashes the way the simulator crashes a node: its disk writes still under way
(a slow disk) are dropped with the node.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from node.messages import Put
from node.sim.cluster import SimConfig, Simulator
from node.storage import MemoryStorage, SQLiteStorage, Storage
from tests.support.storage_kit import check_storage

CRASHING_WRITER = """
import os, signal, sys
from node.storage import SQLiteStorage
s = SQLiteStorage(sys.argv[1])
for key in sys.argv[2].split(","):
    s.write([("", key, b"durable")])
s._w.execute("BEGIN IMMEDIATE")  # a write under way: in the transaction, not committed
for key in sys.argv[3].split(","):
    s._w.execute("INSERT OR REPLACE INTO objects VALUES (?, ?)", (key, b"unsynced"))
os.kill(os.getpid(), signal.SIGKILL)
"""


class SQLiteAdapter:
    def __init__(self, root: Path) -> None:
        self.root, self.n = root, 0

    def open(self) -> Storage:
        self.n += 1
        return SQLiteStorage(self.root / f"s{self.n}" / "node.db")

    def reopen(self, storage: Storage) -> Storage:
        assert isinstance(storage, SQLiteStorage)
        storage.close()
        return SQLiteStorage(storage.path)

    def crash(self, durable: list[str], unsynced: list[str]) -> Storage:
        path = self.root / "crashed" / "node.db"
        args = [sys.executable, "-c", CRASHING_WRITER, str(path), ",".join(durable),
                ",".join(unsynced)]  # fmt: skip
        proc = subprocess.run(args, timeout=60, capture_output=True, text=True)
        assert proc.returncode == -9, proc.stderr
        return SQLiteStorage(path)


class MemoryAdapter:
    def open(self) -> Storage:
        return MemoryStorage()

    def reopen(self, storage: Storage) -> Storage:
        return storage  # the simulator keeps a crashed node's disk object

    def crash(self, durable: list[str], unsynced: list[str]) -> Storage:
        settings = {"n": 1, "r": 1, "w": 1, "antientropy_interval_ms": 0}
        sim = Simulator(3, SimConfig(nodes=1, settings=settings))
        for key in durable:
            assert sim.call("n1", Put(key, b"durable").wire())["t"] == "ok"  # acked: on disk
        sim.set_disk_delay("n1", 60_000)
        for key in unsynced:
            sim.request("n1", Put(key, b"unsynced").wire())
        sim.run_for(100)  # the writes are issued, not finished
        sim.crash("n1")
        return sim.disks["n1"]


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
def test_storage_passes_the_kit(kind: str, tmp_path: Path) -> None:
    check_storage(SQLiteAdapter(tmp_path) if kind == "sqlite" else MemoryAdapter())


class LosesWrites(MemoryStorage):
    def write(self, items: object) -> None:  # type: ignore[override]
        pass


class ForgetfulAdapter(MemoryAdapter):
    def open(self) -> Storage:
        return LosesWrites()


def test_the_kit_fails_a_store_that_drops_writes() -> None:
    with pytest.raises(AssertionError, match="last item"):
        check_storage(ForgetfulAdapter())
