"""Everything the report draws from, loaded once: the history, its pairs, faults and files.

`RunData` is built either from a finished run in memory (the runner) or from a
stored run directory (`sibyl report`), so both paths render the same page. It
never raises on a half-written directory: missing pieces are empty, and the
reader of a crashed run still gets what was recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checkers.history import HistoryError, Op, OpType, read_jsonl
from harness.bands import Band, fault_bands, heal_time
from harness.store import StoreError, read_json


@dataclass(frozen=True)
class Call:
    """One client op, invoke to completion (`end` None: it never completed)."""

    process: int | str
    f: str
    key: str | None
    start: int
    end: int | None
    result: str  # ok / fail / info / open
    invoke_index: int
    index: int | None
    node: str | None
    siblings: int | None


@dataclass
class RunData:
    """A run as the report sees it."""

    doc: dict[str, Any]
    history: Sequence[Op] = ()
    faults_planned: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    bands: list[Band] = field(default_factory=list)
    heal: int | None = None
    by_index: dict[int, Op] = field(default_factory=dict)
    history_error: str | None = None
    #: For a run made by `sibyl shrink`: what suffices, and the original run (shrink.json).
    shrunk: dict[str, Any] | None = None
    _puts: dict[Any, Op] | None = None
    _calls: dict[int, Call] | None = None

    @staticmethod
    def build(
        doc: Mapping[str, Any],
        history: Sequence[Op],
        planned: Sequence[Mapping[str, Any]] = (),
        files: Sequence[str] = (),
    ) -> RunData:
        """Indexes `history` (pairs invokes with completions, finds the faults)."""
        data = RunData(dict(doc), history, [dict(f) for f in planned], list(files))
        data.calls = client_calls(history)
        data.bands = fault_bands(history)
        data.heal = heal_time(history)
        data.by_index = {op.index: op for op in history}
        return data

    @property
    def end(self) -> int:
        """The last time (ns) in the history, at least 1."""
        last = self.history[-1].time if self.history else 1
        return max(1, last, self.bands[-1].end if self.bands else 1, *(b.end for b in self.bands))

    def call_of(self, index: int) -> Call | None:
        """The client op whose invoke or completion is history op `index`."""
        if self._calls is None:
            self._calls = {c.invoke_index: c for c in self.calls}
            self._calls.update({c.index: c for c in self.calls if c.index is not None})
        return self._calls.get(index)

    def put_completion(self, put: Any) -> Op | None:
        """The completion of the add/remove that wrote version `put` (None if unknown)."""
        if self._puts is None:
            self._puts = {op.extra.get("put"): op for op in self.history
                          if op.type is not OpType.INVOKE and "put" in op.extra}  # fmt: skip
        return self._puts.get(put) if put is not None else None

    def faults_at(self, t0: int, t1: int | None = None) -> list[Band]:
        """The bands active at some moment of [t0, t1]."""
        return [b for b in self.bands if b.overlaps(t0, t0 if t1 is None else t1)]


_RESULT = {t: t.value for t in OpType}  # a dict lookup: Enum.value is slow in a hot loop


def client_calls(history: Sequence[Op]) -> list[Call]:
    """Pairs each client invoke with its completion (by process), in invoke order.

    Tolerates what a crashed run leaves: a completion without an invoke is
    skipped, an invoke without a completion is `open`.
    """
    open_: dict[int | str, Op] = {}
    done: dict[int, Op] = {}
    order: list[Op] = []
    for op in history:
        if op.is_nemesis or op.process == "checker":
            continue
        if op.type is OpType.INVOKE:
            open_[op.process] = op
            order.append(op)
        elif op.process in open_:
            done[open_.pop(op.process).index] = op
    out = []
    for inv in order:
        c = done.get(inv.index)
        sibs = len(c.siblings) if c is not None and c.siblings is not None else None
        out.append(Call(inv.process, inv.f, inv.key, inv.time,
                        c.time if c else None, _RESULT[c.type] if c else "open",
                        inv.index, c.index if c else None,
                        (c.node if c else None) or inv.node, sibs))  # fmt: skip
    return out


def load_run(run_dir: Path) -> RunData:
    """Loads a stored run directory (results.json may be missing or say crashed)."""
    doc = _json(run_dir / "results.json") or {}
    config = _json(run_dir / "config.json") or {}
    doc.setdefault("config", config)
    doc.setdefault("seed", config.get("seed"))
    doc.setdefault("test", _test_name(config, run_dir))
    if "command" not in doc and (run_dir / "command.txt").is_file():
        doc["command"] = (run_dir / "command.txt").read_text().strip()
    if not (run_dir / "results.json").is_file():
        doc.update(valid="unknown", crashed=True,
                   error="the run ended before it wrote results.json")  # fmt: skip
    history: list[Op] = []
    err = None
    try:
        history = read_jsonl(run_dir / "history.jsonl")
    except HistoryError as e:
        err = str(e)
    schedule = _json(run_dir / "schedule.json") or {}
    data = RunData.build(doc, history, schedule.get("planned", []), run_files(run_dir))
    data.history_error = err
    return data


def lineage(run_dir: Path) -> dict[str, Any] | None:
    """shrink.json with `original_report`, the original run's report relative to this run."""
    shrink = _json(run_dir / "shrink.json")
    if not shrink or not isinstance(shrink.get("original"), str):
        return None
    report = Path(shrink["original"]) / "report.html"
    return {**shrink, "original_report": os.path.relpath(report, run_dir)}


def run_files(run_dir: Path) -> list[str]:
    """The files a reader may open, relative to the run directory, in a stable order."""
    names = ["history.jsonl", "schedule.json", "config.json", "command.txt", "sibyl.log",
             "crash.txt", "results.json", "junit.xml", "shrink.json"]  # fmt: skip
    # sibyl.log is written last, after the report: a run directory with a command has one.
    out = [n for n in names if (run_dir / n).is_file()
           or (n == "sibyl.log" and (run_dir / "command.txt").is_file())]  # fmt: skip
    nodes = run_dir / "nodes"
    if nodes.is_dir():
        out += sorted(f"nodes/{p.name}" for p in nodes.glob("*.log"))
    return out


def _json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        got = read_json(path)
    except StoreError:
        return None
    return dict(got) if isinstance(got, dict) else None


def _test_name(config: Mapping[str, Any], run_dir: Path) -> str:
    if config.get("workload"):
        return f"{config['workload']}-{config.get('mode', '?')}-{config.get('conflict', '?')}"
    return run_dir.parent.name
