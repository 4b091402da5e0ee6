"""Reading a history file: Sibyl's JSON Lines, format detection, and `load_history`.

`load_history(path, format=None)` picks the parser (see `parsers`), detecting
the format from the first meaningful line when none is given. It raises only
`ParseError`, for an unreadable file too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from checkers.history import HistoryError, Op, OpType, parse_jsonl
from checkers.linearizable.edn import EdnError, Reader
from checkers.linearizable.model import Annotation
from checkers.linearizable.parsers import (
    FORMATS,
    Pairer,
    ParsedHistory,
    ParseError,
    parse_edn,
    parse_etcd_log,
)

_REGISTER_FS = ("read", "write", "cas")


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return json.dumps(v, sort_keys=True)
    return v


def _read_output(op: Op) -> Any:
    """A register read's value: its single sibling, None when absent, a tuple when several."""
    if op.siblings is None:
        return _hashable(op.value)
    values = [_hashable(s.get("value") if isinstance(s, dict) else s) for s in op.siblings]
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def _register_input(op: Op, source: str, line: int) -> Any:
    if op.f == "read":
        return ("read", op.key, None)
    if op.f == "cas":
        if not (isinstance(op.value, list) and len(op.value) == 2):
            raise ParseError(source, line, f"a cas needs value [from, to], got {op.value!r}")
        return ("cas", op.key, (_hashable(op.value[0]), _hashable(op.value[1])))
    return ("write", op.key, _hashable(op.value))


def _jsonl_op(p: Pairer, op: Op, source: str, line: int) -> None:
    if op.f not in _REGISTER_FS:
        raise ParseError(source, line, f"the linearizable checker reads register ops "
                         f"(f = read, write or cas), got f={op.f!r}")  # fmt: skip
    if op.type is OpType.INVOKE:
        p.call(op.process, _register_input(op, source, line), line)
    elif op.type is OpType.OK:
        out = _read_output(op) if op.f == "read" else (True if op.f == "cas" else None)
        p.complete(op.process, out, line, "ok")
    elif op.type is OpType.FAIL and (op.f == "read" or (op.error or "").startswith("get:")):
        p.drop(op.process, line)
    else:  # info, or a failed put that may have landed
        p.crash(op.process, line)


def _nemesis(op: Op, time: int, open_: dict[Any, tuple[int, str]], out: list[Annotation]) -> None:
    v = op.value if isinstance(op.value, dict) else {}
    ident = _hashable(v.get("id", op.f))
    label = str(v.get("kind") or op.f)
    if v.get("shape"):
        label += f" {v['shape']}"
    if op.f == "start":
        open_[ident] = (time, label)
    elif op.f == "stop" and ident in open_:
        start, label = open_.pop(ident)
        out.append(Annotation(start, time, label, details=json.dumps(v)))
    else:
        out.append(Annotation(time, time, label, details=json.dumps(v)))


def _numbered(lines: Iterable[str], cursor: list[int]) -> Iterator[str]:
    for n, line in enumerate(lines, start=1):
        cursor[0] = n
        yield line


def parse_sibyl_jsonl(lines: Iterable[str], source: str = "<jsonl>") -> ParsedHistory:
    """Reads a Sibyl register history (JSON Lines) into cas-register operations by key."""
    cursor = [0]
    try:
        ops = ((op, cursor[0]) for op in parse_jsonl(_numbered(lines, cursor), source))
        return sibyl_operations(ops, source)
    except HistoryError as e:
        raise ParseError(source, e.line, e.message) from None
    except ParseError:
        raise
    except (ValueError, RecursionError) as e:  # json's limits: huge numbers, deep nesting
        raise ParseError(source, cursor[0], f"cannot decode the line: {e}") from None


def sibyl_operations(ops: Iterable[tuple[Op, int]], source: str = "<history>") -> ParsedHistory:
    """Turns Sibyl `Op`s, each with its line number, into operations and fault annotations."""
    p = Pairer(source)
    annotations: list[Annotation] = []
    open_faults: dict[Any, tuple[int, str]] = {}
    for op, line in ops:
        if op.is_nemesis:
            _nemesis(op, p.time, open_faults, annotations)
        elif op.f != "replica-read" and op.process != "checker":
            _jsonl_op(p, op, source, line)
    operations = p.finish()
    for start, label in open_faults.values():
        annotations.append(Annotation(start, p.time, label + " (never stopped)"))
    return ParsedHistory(operations, "jsonl", "cas-register", annotations)


def detect_format(text: str, source: str = "<history>") -> str:
    """Names the format of a history from its first meaningful line; raises ParseError."""
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("INFO") and "jepsen.util" in line:
            return "etcd-log"
        if line.startswith("{") and not line.startswith("{:"):
            try:
                json.loads(line)
                return "jsonl"
            except json.JSONDecodeError:
                pass
        if line[0] in "[({#":
            return "edn"
        raise ParseError(source, lineno, f"cannot tell the format from {line[:60]!r}; expected "
                         f"one of {', '.join(FORMATS)} (pass the format explicitly)")  # fmt: skip
    return "edn"


def parse_text(text: str, format: str | None = None, source: str = "<history>") -> ParsedHistory:
    """Parses a history held in a string; `format` None means detect it."""
    fmt = format or detect_format(text, source)
    if fmt == "etcd-log":
        return parse_etcd_log(text, source)
    if fmt == "edn":
        return parse_edn(text, source)
    if fmt == "jsonl":
        return parse_sibyl_jsonl(text.splitlines(), source)
    raise ParseError(source, 0, f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def load_history(path: str | Path, format: str | None = None) -> ParsedHistory:
    """Reads and parses a history file; raises ParseError (also for an unreadable file)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ParseError(str(p), 0, f"cannot read the file: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ParseError(str(p), 0, "the file is not UTF-8 text") from None
    return parse_text(text, format, str(p))


def parse_initial_state(text: str | None) -> Any:
    """Reads an initial state given as JSON or EDN (None stays None); raises ValueError."""
    if text is None:
        return None
    try:
        return _hashable(json.loads(text))
    except json.JSONDecodeError:
        pass
    try:
        reader = Reader(text)
        value = reader.read()
        if not reader.at_end():
            raise EdnError(1, "text after the first value")
    except EdnError as e:
        raise ValueError(
            f"initial state {text!r} is neither JSON nor EDN ({e.message}); "
            "pass e.g. 0, '\"x\"' or '{:x 0 :y 0}'"
        ) from None
    return value
