"""Readers for the history formats the checker accepts, all to `Operation`s.

- `etcd-log`: Porcupine's Jepsen etcd logs (`INFO  jepsen.util - 3\t:ok\t:read\t2`).
  Porcupine's semantics: `:fail :cas` returned False, `:fail :read` returned an
  unknown value, `:info` lines are skipped, so their operation stays open.
- `edn`: Knossos histories and Porcupine's kv files. Knossos's semantics:
  `:fail` operations are dropped, `:info` and never-completed operations may
  have taken effect at any point after their call, or never; nil reads are unknown.
- `jsonl`: Sibyl's own history (register workload: read / write / cas on `key`).
  Failed reads are dropped; failed writes and cas are indeterminate unless the
  error starts with `get:` (nothing was written); nemesis faults become annotations.

Times are positions in the file, so intervals follow the recorded order. Every
operation still open at the end is closed with an `UNKNOWN` output after the
last event. Every parser raises only `ParseError`, naming the file, the line
and what was expected; a completion with no open call is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from checkers.linearizable.edn import EdnError, Keyword, Symbol, keyword, read_top_level
from checkers.linearizable.model import UNKNOWN, Annotation, Operation

FORMATS = ("etcd-log", "edn", "jsonl")


class ParseError(ValueError):
    """A history that cannot be read: `source:line: message`."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        super().__init__(f"{source}:{line}: {message}")


@dataclass
class ParsedHistory:
    """Operations read from a file, the model they suggest, and annotations."""

    operations: list[Operation]
    format: str
    suggested_model: str
    annotations: list[Annotation] = field(default_factory=list)


@dataclass
class _Open:
    client: int
    input: Any
    call: int
    line: int


class Pairer:
    """Matches calls and completions per process; positions are the times."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.time = 0
        self.open: dict[Any, _Open] = {}
        self.crashed: list[_Open] = []
        self.ops: list[Operation] = []
        self.clients: dict[Any, int] = {}
        self.fs: set[str] = set()

    def _tick(self) -> int:
        self.time += 1
        return self.time

    def _hashable(self, value: Any, line: int) -> None:
        try:
            hash(value)
        except TypeError:
            raise ParseError(
                self.source, line, f"values must not contain maps: {value!r:.60}"
            ) from None

    def call(self, process: Any, inp: Any, line: int) -> None:
        """Opens an operation for `process`; an already open one is an error."""
        self._hashable(inp, line)
        if process in self.open:
            prev = self.open[process].line
            raise ParseError(self.source, line, f"process {process!r} invokes again, but its "
                             f"operation from line {prev} has not completed")  # fmt: skip
        if isinstance(process, int) and not isinstance(process, bool):
            client = process
        else:  # a named process: a negative id, so it never meets a numbered one
            client = self.clients.setdefault(process, -1 - len(self.clients))
        self.open[process] = _Open(client, inp, self._tick(), line)
        self.fs.add(inp[0])

    def _take(self, process: Any, line: int, what: str) -> _Open:
        if process not in self.open:
            raise ParseError(self.source, line, f"{what} of process {process!r} has no open "
                             "invocation (an unmatched return)")  # fmt: skip
        return self.open.pop(process)

    def complete(self, process: Any, output: Any, line: int, what: str = "completion") -> None:
        """Closes the open operation of `process` with `output`; none open is an error."""
        self._hashable(output, line)
        o = self._take(process, line, what)
        self.ops.append(Operation(o.client, o.input, o.call, output, self._tick()))

    def drop(self, process: Any, line: int) -> None:
        """Forgets the open operation of `process`: it definitely did not happen."""
        self._take(process, line, ":fail")

    def crash(self, process: Any, line: int) -> None:
        """Leaves the operation of `process` open to the end, with an UNKNOWN output."""
        self.crashed.append(self._take(process, line, ":info"))

    def finish(self) -> list[Operation]:
        """All operations, in call order; unfinished ones return UNKNOWN after the end."""
        for o in self.crashed + list(self.open.values()):
            self.ops.append(Operation(o.client, o.input, o.call, UNKNOWN, self._tick()))
        self.ops.sort(key=lambda op: op.call)
        return self.ops

    def suggested_model(self, default: str) -> str:
        """The model whose operations the history used (`default` for registers)."""
        if self.fs & {"get", "put", "append"}:
            return "kv"
        if self.fs & {"acquire", "release"}:
            return "mutex"
        if "txn" in self.fs:
            return "multi-register"
        return default


# --- Porcupine's etcd logs ----------------------------------------------------------

_ETCD_LINE = re.compile(
    r"INFO\s+jepsen\.util\s+-\s+(\d{1,18})\s+(:invoke|:ok|:fail|:info)\s+(:read|:write|:cas)\s+(.+?)\s*"
)
_ETCD_VALUE = re.compile(r"nil|-?\d{1,18}|\[\s*(-?\d{1,18})\s+(-?\d{1,18})\s*\]|:[\w-]+")
_ETCD_EXPECTED = ("expected 'INFO  jepsen.util - <process> <:invoke|:ok|:fail|:info> "
                  "<:read|:write|:cas> <value>'")  # fmt: skip


def _etcd_value(text: str) -> Any:
    m = _ETCD_VALUE.fullmatch(text)
    if m is None:
        return None
    if text == "nil":
        return None
    if m.group(1) is not None:
        return (int(m.group(1)), int(m.group(2)))
    if text.startswith(":"):
        return keyword(text[1:])
    return int(text)


def _etcd_event(p: Pairer, proc: int, typ: str, f: str, value: Any, line: int) -> str | None:
    """Applies one etcd log line; returns an error message if the combination is unknown."""
    f = f[1:]
    if typ == ":invoke":
        if f == "cas" and not isinstance(value, tuple):
            return "a cas needs [from to]"
        if f == "write" and not isinstance(value, int):
            return "a write needs an integer"
        p.call(proc, (f, None, None if f == "read" else value), line)
    elif typ == ":info":
        p.crash(proc, line)
    elif f == "read":
        if typ == ":ok" and not (value is None or isinstance(value, int)):
            return "an :ok :read returns nil or an integer"
        p.complete(proc, value if typ == ":ok" else UNKNOWN, line)
    elif f == "cas":
        p.complete(proc, typ == ":ok", line)
    elif typ == ":ok":
        p.complete(proc, None, line)
    else:
        return f"{typ} {f} is not a known completion (a write completes with :ok or :info)"
    return None


def parse_etcd_log(text: str, source: str = "<etcd-log>") -> ParsedHistory:
    """Reads a Porcupine/Jepsen etcd log into cas-register operations (one key, None)."""
    p = Pairer(source)
    for lineno, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        m = _ETCD_LINE.fullmatch(raw)
        if m is None:
            raise ParseError(source, lineno, f"{_ETCD_EXPECTED}, got {raw.strip()[:80]!r}")
        proc, typ, f, vtext = int(m.group(1)), m.group(2), m.group(3), m.group(4)
        if _ETCD_VALUE.fullmatch(vtext) is None:
            raise ParseError(source, lineno, f"expected a value (nil, an integer, [from to] or "
                             f"a keyword), got {vtext!r}")  # fmt: skip
        err = _etcd_event(p, proc, typ, f, _etcd_value(vtext), lineno)
        if err is not None:
            raise ParseError(source, lineno, err)
    return ParsedHistory(p.finish(), "etcd-log", "etcd-register")


# --- EDN (Knossos, Porcupine kv) -----------------------------------------------------

_K = Keyword
_NAMES = {"read", "write", "cas", "get", "put", "append", "acquire", "release", "txn"}


def _name(v: Any) -> str | None:
    if isinstance(v, Keyword | Symbol):
        return v.name
    return v if isinstance(v, str) else None


def _micro_ops(value: Any, source: str, line: int) -> tuple[tuple[str, Any, Any], ...]:
    if not isinstance(value, tuple):
        raise ParseError(source, line, f"a :txn value must be a vector of micro-ops, got {value!r}")
    out = []
    for mop in value:
        if not (isinstance(mop, tuple) and len(mop) == 3 and _name(mop[0]) in ("read", "write")):
            raise ParseError(source, line, f"expected a micro-op [:read k v] or [:write k v], "
                             f"got {mop!r}")  # fmt: skip
        f = _name(mop[0])
        v = UNKNOWN if f == "read" and mop[2] is None else mop[2]
        out.append((f or "", mop[1], v))
    return tuple(out)


def _edn_input(f: str, op: dict[Any, Any], source: str, line: int) -> Any:
    key, value = op.get(_K("key")), op.get(_K("value"))
    if f == "cas":
        if not (isinstance(value, tuple) and len(value) == 2):
            raise ParseError(source, line, f"a :cas invoke needs :value [from to], got {value!r}")
        return (f, key, value)
    if f == "txn":
        return (f, key, _micro_ops(value, source, line))
    if f in ("put", "append") and not isinstance(value, str):
        raise ParseError(source, line, f"a :{f} invoke needs a string :value, got {value!r:.60}")
    if f in ("write", "put", "append"):
        return (f, key, value)
    return (f, key, None)


def _edn_output(f: str, value: Any, source: str, line: int) -> Any:
    if f == "get" and not (value is None or isinstance(value, str)):
        raise ParseError(source, line, f"a :get returns a string or nil, got {value!r:.60}")
    if f in ("read", "get"):
        return UNKNOWN if value is None else value
    if f == "cas":
        return True
    if f == "txn":
        return _micro_ops(value, source, line)
    return None


def _edn_op(p: Pairer, op: Any, source: str, line: int) -> None:
    if not isinstance(op, dict):
        raise ParseError(source, line, f"expected an op map {{:process … :type … :f …}}, "
                         f"got {op!r:.60}")  # fmt: skip
    process, typ, f = op.get(_K("process")), _name(op.get(_K("type"))), _name(op.get(_K("f")))
    if process is None or typ is None or f is None:
        raise ParseError(source, line, "an op map needs :process, :type and :f")
    if not isinstance(process, int) or isinstance(process, bool):
        return  # the nemesis, or another non-client process
    if f not in _NAMES:
        raise ParseError(source, line, f"unknown :f :{f}; expected one of {sorted(_NAMES)}")
    if typ == "invoke":
        p.call(process, _edn_input(f, op, source, line), line)
    elif typ == "ok":
        p.complete(process, _edn_output(f, op.get(_K("value")), source, line), line, ":ok")
    elif typ == "fail":
        p.drop(process, line)
    elif typ == "info":
        p.crash(process, line)
    else:
        raise ParseError(source, line, f"unknown :type :{typ}; expected :invoke/:ok/:fail/:info")


def parse_edn(text: str, source: str = "<edn>") -> ParsedHistory:
    """Reads a Knossos EDN history (or a Porcupine kv file) with Knossos's semantics."""
    p = Pairer(source)
    try:
        for op, line in read_top_level(text):
            _edn_op(p, op, source, line)
    except EdnError as e:
        raise ParseError(source, e.line, e.message) from None
    return ParsedHistory(p.finish(), "edn", p.suggested_model("cas-register"))
