"""The store's run index: a small SQLite file (`STORE/index.sqlite`) `sibyl serve` reads.

Every run adds or replaces its own row when it writes its results
(`record_run`), so the index is current without a scan; `rebuild` recreates
it from the run directories (`sibyl index`), after copying in the runs of
other stores (`merge`: shards of one nightly sweep written on many machines).
A row is derived only from the run directory's own files, so rebuilding
gives the same rows. Sweeps also record the cells they expected to run
(`expect`), so the site can show nightly runs that never happened.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.findings import true_counts

INDEX = "index.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  path TEXT PRIMARY KEY, test TEXT, workload TEXT, nemesis TEXT, mode TEXT, conflict TEXT,
  config_key TEXT, seed INTEGER, verdict TEXT, started_at TEXT, duration_s REAL,
  ops INTEGER, ops_per_s REAL, anomalies INTEGER, anomaly_counts TEXT, sweep TEXT, cell TEXT);
CREATE TABLE IF NOT EXISTS expected (
  sweep TEXT, cell TEXT, config_key TEXT, seed INTEGER, date TEXT, PRIMARY KEY (sweep, cell));
"""
COLUMNS = ("path", "test", "workload", "nemesis", "mode", "conflict", "config_key", "seed",
           "verdict", "started_at", "duration_s", "ops", "ops_per_s", "anomalies",
           "anomaly_counts", "sweep", "cell")  # fmt: skip


@dataclass(frozen=True)
class Cell:
    """One run a sweep expects: a configuration and a seed."""

    sweep: str
    cell: str
    config_key: str
    seed: int
    date: str


def config_key(config: dict[str, Any]) -> str:
    """The configuration a trend follows: workload, nemeses, mode, conflict, cluster size."""
    nem = config.get("nemesis") or ()
    nemesis = ",".join(nem) if isinstance(nem, list | tuple) else str(nem)
    return (f"{config.get('workload', '?')}/{nemesis or 'none'}/{config.get('mode', '?')}/"
            f"{config.get('conflict', '?')}/{config.get('nodes', '?')}n")  # fmt: skip


def connect(store: Path) -> sqlite3.Connection:
    db = sqlite3.connect(store / INDEX, timeout=30)
    db.executescript(_SCHEMA)
    return db


def store_of(run_dir: Path) -> Path:
    """The store a run directory belongs to (`STORE/<test>/<stamp>`)."""
    return run_dir.resolve().parent.parent


def record_run(run_dir: Path, store: Path | None = None) -> None:
    """Adds or replaces the row of one run (never raises for a half-written run).

    Without `store`, only a run directory inside a store (one with `latest` or an
    index) is recorded: a run directory copied elsewhere must not grow an index in
    whatever folder happens to hold it.
    """
    if store is None:
        store = store_of(run_dir)
        if not ((store / "latest").is_symlink() or (store / INDEX).is_file()):
            return
    row = run_row(run_dir, store)
    if row is None:
        return
    with connect(store) as db:
        db.execute(f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(COLUMNS))})",
                   [row[c] for c in COLUMNS])  # fmt: skip


def run_row(run_dir: Path, store: Path) -> dict[str, Any] | None:
    """The index row of a run directory, or None if it is not one."""
    config = _read(run_dir / "config.json")
    if config is None:
        return None
    doc = _read(run_dir / "results.json") or {"crashed": True}
    tag = _read(run_dir / "sweep.json") or {}
    stats = doc.get("stats") or {}
    counts: dict[str, int] = {}
    for r in (doc.get("checkers") or {}).values():
        for k, v in true_counts(r).items():
            counts[k] = counts.get(k, 0) + v
    nem = config.get("nemesis") or []
    return {
        "path": str(run_dir.resolve().relative_to(store.resolve())),
        "test": doc.get("test") or run_dir.parent.name,
        "workload": config.get("workload"), "nemesis": ",".join(nem) or "none",
        "mode": config.get("mode"), "conflict": config.get("conflict"),
        "config_key": config_key(config), "seed": config.get("seed"),
        "verdict": verdict(doc), "started_at": doc.get("started_at") or _stamp(run_dir),
        "duration_s": doc.get("duration_s"), "ops": stats.get("ops_completed"),
        "ops_per_s": stats.get("ops_per_s"), "anomalies": sum(counts.values()),
        "anomaly_counts": json.dumps(counts, sort_keys=True),
        "sweep": tag.get("sweep"), "cell": tag.get("cell"),
    }  # fmt: skip


def verdict(doc: dict[str, Any]) -> str:
    """valid / invalid / unknown / crashed: a crash (exit 255) is not an unknown verdict."""
    if doc.get("crashed"):
        return "crashed"
    v = doc.get("valid")
    return "valid" if v is True else "invalid" if v is False else "unknown"


def _stamp(run_dir: Path) -> str:
    n = run_dir.name[:15]
    if len(n) == 15 and n[8] == "T":
        return f"{n[:4]}-{n[4:6]}-{n[6:8]}T{n[9:11]}:{n[11:13]}:{n[13:15]}Z"
    return ""


def _read(path: Path) -> dict[str, Any] | None:
    try:
        got = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return got if isinstance(got, dict) else None


def run_dirs(store: Path) -> Iterator[Path]:
    """Every run directory under `store` (`latest` links skipped)."""
    for config in sorted(store.glob("*/*/config.json")):
        d = config.parent
        if not d.is_symlink() and d.name != "latest":
            yield d


def expect(store: Path, cells: Iterable[Cell]) -> None:
    """Records the cells a sweep expects (also written to STORE/sweeps/ for rebuilds)."""
    cells = list(cells)
    if not cells:
        return
    folder = store / "sweeps"
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{cells[0].sweep}.json"
    out.write_text(json.dumps([c.__dict__ for c in cells], indent=1) + "\n")
    with connect(store) as db:
        db.executemany("INSERT OR REPLACE INTO expected VALUES (?,?,?,?,?)",
                       [(c.sweep, c.cell, c.config_key, c.seed, c.date) for c in cells]
                       )  # fmt: skip


def rebuild(store: Path) -> int:
    """Recreates the index from the run directories and sweep files; returns the run count."""
    (store / INDEX).unlink(missing_ok=True)
    rows = [r for d in run_dirs(store) if (r := run_row(d, store)) is not None]
    with connect(store) as db:
        db.executemany(f"INSERT OR REPLACE INTO runs VALUES ({','.join('?' * len(COLUMNS))})",
                       [[r[c] for c in COLUMNS] for r in rows])  # fmt: skip
    for f in sorted((store / "sweeps").glob("*.json")):
        cells = json.loads(f.read_text())
        expect(store, [Cell(**c) for c in cells])
    return len(rows)


def merge(store: Path, other: Path) -> int:
    """Copies the runs (and sweep files) of `other` into `store`; returns how many were new.

    A run already present (same relative path, same seed and command) is
    skipped; a different run with the same path gets a suffix.
    """
    added = 0
    for d in run_dirs(other):
        rel = d.relative_to(other)
        dest = store / rel
        if dest.exists():
            if _same_run(d, dest):
                continue
            n = 2
            while (store / rel.parent / f"{rel.name}-m{n}").exists():
                n += 1
            dest = store / rel.parent / f"{rel.name}-m{n}"
        shutil.copytree(d, dest, symlinks=True)
        added += 1
    for f in sorted((other / "sweeps").glob("*.json")):
        (store / "sweeps").mkdir(parents=True, exist_ok=True)
        mine = store / "sweeps" / f.name
        cells = {json.dumps(c, sort_keys=True) for c in json.loads(f.read_text())}
        if mine.is_file():
            cells |= {json.dumps(c, sort_keys=True) for c in json.loads(mine.read_text())}
        mine.write_text(json.dumps([json.loads(c) for c in sorted(cells)], indent=1) + "\n")
    return added


def _same_run(a: Path, b: Path) -> bool:
    def ident(d: Path) -> tuple[Any, ...]:
        cmd = (d / "command.txt").read_text() if (d / "command.txt").is_file() else ""
        return ((_read(d / "config.json") or {}).get("seed"), cmd)

    return ident(a) == ident(b)
