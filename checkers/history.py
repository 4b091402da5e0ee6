"""The history: the op record every checker reads, and its JSON Lines codec.

A history is a list of `Op`s in the order they were recorded. Each client op
appears twice: once at invoke and once at completion (ok / fail / info), with
the same `process`. Jepsen semantics: `info` is indeterminate, and a process
whose op ended in `info` never invokes again. Nemesis ops use the process
``"nemesis"`` and go into the same history.

Times are integer nanoseconds since the test started, from a monotonic clock.
The codec never raises anything but `HistoryError`, which names the file, the
line and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

NEMESIS = "nemesis"
CHECKER = "checker"
"""The process of observations the harness makes itself (replica reads)."""


class OpType(StrEnum):
    INVOKE = "invoke"
    OK = "ok"
    FAIL = "fail"
    INFO = "info"


@dataclass(init=False, slots=True)
class Op:
    """One history record (DESIGN.md §3).

    `context` is the opaque causal context as returned by a get or sent with a
    put (a string); `siblings` is the list of values a read returned.

    Immutable: every field is `Final`, so mypy refuses an assignment anywhere but
    `__init__`, and the compiled build (native/__init__.py) refuses it at run time
    (AttributeError). Not a frozen dataclass: its generated `__init__` runs as Python
    and sets each field through `object.__setattr__`, 1.8 µs per op, against 0.06 µs
    for this one compiled (a simulated run records ~3000 ops).
    """

    index: Final[int]
    time: Final[int]
    process: Final[int | str]
    type: Final[OpType]
    f: Final[str]
    key: Final[str | None]
    value: Final[Any]
    context: Final[str | None]
    siblings: Final[list[Any] | None]
    node: Final[str | None]
    error: Final[str | None]
    extra: Final[dict[str, Any]]

    def __init__(
        self,
        index: int,
        time: int,
        process: int | str,
        type: OpType,
        f: str,
        key: str | None = None,
        value: Any = None,
        context: str | None = None,
        siblings: list[Any] | None = None,
        node: str | None = None,
        error: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.index = index
        self.time = time
        self.process = process
        self.type = type
        self.f = f
        self.key = key
        self.value = value
        self.context = context
        self.siblings = siblings
        self.node = node
        self.error = error
        self.extra = {} if extra is None else extra

    def __reduce__(self) -> tuple[Callable[..., Op], tuple[Any, ...]]:
        """How `copy` rebuilds an op: through the constructor (a compiled op's fields
        cannot be assigned one by one, as `copy` would by default)."""
        return (Op, (self.index, self.time, self.process, self.type, self.f, self.key,
                     self.value, self.context, self.siblings, self.node, self.error,
                     self.extra))  # fmt: skip

    @property
    def is_nemesis(self) -> bool:
        return self.process == NEMESIS

    def to_dict(self) -> dict[str, Any]:
        """Returns the JSON form: index/time/process/type/f always, other fields when set."""
        d: dict[str, Any] = {
            "index": self.index,
            "time": self.time,
            "process": self.process,
            "type": self.type.value,
            "f": self.f,
        }
        for name in ("key", "value", "context", "siblings", "node", "error"):
            v = getattr(self, name)
            if v is not None:
                d[name] = v
        d.update(self.extra)
        return d


class HistoryError(ValueError):
    """A history that cannot be read: names the source, the line and what was wrong."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}")


_KNOWN = ("index", "time", "process", "type", "f", "key", "value", "context", "siblings",
          "node", "error")  # fmt: skip


def op_from_dict(d: Any, source: str = "<history>", line: int = 0) -> Op:
    """Builds an Op from its JSON form; raises HistoryError naming `source:line` if malformed."""
    if not isinstance(d, dict):
        raise HistoryError(source, line, f"expected a JSON object, got {type(d).__name__}")
    for name, kinds in (("index", (int,)), ("time", (int,)), ("process", (int, str)),
                        ("type", (str,)), ("f", (str,))):  # fmt: skip
        if name not in d:
            raise HistoryError(source, line, f"missing field {name!r}")
        if not isinstance(d[name], kinds) or isinstance(d[name], bool):
            want = " or ".join(k.__name__ for k in kinds)
            raise HistoryError(source, line, f"field {name!r} must be {want}, got {d[name]!r}")
    try:
        typ = OpType(d["type"])
    except ValueError:
        raise HistoryError(
            source, line, f"field 'type' must be invoke/ok/fail/info, got {d['type']!r}"
        ) from None
    for name in ("key", "context", "node", "error"):
        v = d.get(name)
        if v is not None and not isinstance(v, str):
            raise HistoryError(source, line, f"field {name!r} must be a string, got {v!r}")
    sib = d.get("siblings")
    if sib is not None and not isinstance(sib, list):
        raise HistoryError(source, line, f"field 'siblings' must be a list, got {sib!r}")
    return Op(
        index=d["index"],
        time=d["time"],
        process=d["process"],
        type=typ,
        f=d["f"],
        key=d.get("key"),
        value=d.get("value"),
        context=d.get("context"),
        siblings=sib,
        node=d.get("node"),
        error=d.get("error"),
        extra={k: v for k, v in d.items() if k not in _KNOWN},
    )


def parse_jsonl(lines: Iterable[str], source: str = "<history>") -> Iterator[Op]:
    """Yields the ops of a JSON Lines history; blank lines are skipped.

    Raises HistoryError on the first malformed line, naming it.
    """
    for lineno, raw in enumerate(lines, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise HistoryError(
                source,
                lineno,
                f"not valid JSON ({e.msg} at column {e.colno}); each line must be one JSON object",
            ) from None
        yield op_from_dict(d, source, lineno)


def read_jsonl(path: str | Path) -> list[Op]:
    """Reads a whole JSON Lines history file; raises HistoryError (also for an unreadable file)."""
    p = Path(path)
    try:
        with p.open(encoding="utf-8") as fh:
            return list(parse_jsonl(fh, str(p)))
    except OSError as e:
        raise HistoryError(str(p), 0, f"cannot read the file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise HistoryError(str(p), 0, "the file is not UTF-8 text") from None


def dump_op(op: Op) -> str:
    """Returns one JSON line (no newline) for `op`; keys in a stable order."""
    return json.dumps(op.to_dict(), separators=(",", ":"), ensure_ascii=False)


def write_jsonl(ops: Iterable[Op], path: str | Path) -> None:
    """Writes `ops` as JSON Lines to `path`."""
    with Path(path).open("w", encoding="utf-8") as fh:
        for op in ops:
            fh.write(dump_op(op))
            fh.write("\n")


def pairs(history: Iterable[Op]) -> Iterator[tuple[Op, Op | None]]:
    """Yields (invoke, completion) for every client op, in invoke order.

    Nemesis records and the harness's own observations (process "checker",
    e.g. replica reads, which have no invoke) are skipped. The completion is
    None when the process never completed (treat as info). Raises HistoryError
    when a completion has no open invoke on its process.
    """
    open_: dict[int | str, Op] = {}
    out: list[list[Any]] = []
    slot: dict[int | str, int] = {}
    for op in history:
        if op.is_nemesis or op.process == CHECKER:
            continue
        if op.type is OpType.INVOKE:
            if op.process in open_:
                msg = f"process {op.process!r} invoked twice without completing"
                raise HistoryError("<history>", op.index, msg)
            open_[op.process] = op
            slot[op.process] = len(out)
            out.append([op, None])
        else:
            if op.process not in open_:
                msg = f"{op.type.value} of process {op.process!r} has no open invoke"
                raise HistoryError("<history>", op.index, msg)
            del open_[op.process]
            out[slot.pop(op.process)][1] = op
    yield from ((inv, comp) for inv, comp in out)
