"""A small EDN reader: enough of Clojure's data notation for Jepsen histories.

Reads nil, booleans, integers, floats, strings, characters, keywords, symbols,
vectors and lists (both as tuples), maps (dicts), sets (frozensets), `;`
comments, `#_` discards and tagged literals (the tag is dropped). Commas are
whitespace. Every error is an `EdnError` carrying the line where it happened;
nesting deeper than `MAX_DEPTH` is an error, not a crash.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Keyword:
    """An EDN keyword such as `:read` (name without the colon)."""

    name: str

    def __repr__(self) -> str:
        return ":" + self.name

    def __hash__(self) -> int:
        # the name's cached hash: models look keywords up in dicts at every step, and the
        # generated hash builds a tuple per call
        return hash(self.name)


MAX_INTERNED = 1 << 16
"""Distinct keyword names shared as one object each (later ones are made per use)."""

_INTERNED: dict[str, Keyword] = {}


def keyword(name: str) -> Keyword:
    """The keyword `name`: one shared object per name, so that a dict lookup matches it by
    identity instead of calling `__eq__` (up to `MAX_INTERNED` names)."""
    found = _INTERNED.get(name)
    if found is None:
        found = Keyword(name)
        if len(_INTERNED) < MAX_INTERNED:
            _INTERNED[name] = found
    return found


@dataclass(frozen=True, slots=True)
class Symbol:
    """An EDN symbol other than nil/true/false."""

    name: str

    def __repr__(self) -> str:
        return self.name


class EdnError(ValueError):
    """Malformed EDN: `line` (1-based) and what was expected."""

    def __init__(self, line: int, message: str) -> None:
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}")


_TOKEN = re.compile(
    r"""
    (?P<ws>[\s,]+)
  | (?P<comment>;[^\n]*)
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<discard>\#_)
  | (?P<tag>\#[A-Za-z][^\s,\[\](){}"]*)
  | (?P<char>\\(?:newline|space|tab|return|u[0-9a-fA-F]{4}|.))
  | (?P<atom>[^\s,\[\](){}"\\;]+)
    """,
    re.X | re.S,
)
_INT = re.compile(r"[+-]?\d{1,4000}N?")  # longer is an error, not a slow conversion
_FLOAT = re.compile(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?M?")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r"}
_CLOSE = {"[": "]", "(": ")", "{": "}", "#{": "}"}

Token = tuple[str, str, int]


def tokenize(text: str) -> list[Token]:
    """Splits EDN text into (kind, text, line) tokens, dropping whitespace and comments."""
    out: list[Token] = []
    pos, line, end = 0, 1, len(text)
    while pos < end:
        m = _TOKEN.match(text, pos)
        if m is None:
            what = "an unterminated string" if text[pos] == '"' else f"character {text[pos]!r}"
            raise EdnError(line, f"unexpected {what}")
        kind = m.lastgroup or ""
        tok = m.group()
        if kind not in ("ws", "comment"):
            out.append((kind, tok, line))
        line += tok.count("\n")
        pos = m.end()
    return out


def _string(tok: str, line: int) -> str:
    body, out, i = tok[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2 : i + 6]):
            out.append(chr(int(body[i + 2 : i + 6], 16)))
            i += 6
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise EdnError(line, f"unknown string escape \\{nxt}")
    return "".join(out)


def _atom(tok: str, line: int) -> Any:
    if tok == "nil":
        return None
    if tok in ("true", "false"):
        return tok == "true"
    if _INT.fullmatch(tok):
        return int(tok.rstrip("N"))
    if _FLOAT.fullmatch(tok):
        return float(tok.rstrip("M"))
    if tok.startswith(":"):
        if len(tok) == 1:
            raise EdnError(line, "a keyword needs a name after ':'")
        return keyword(tok[1:])
    if tok[0].isdigit():
        raise EdnError(line, f"malformed number {tok!r}")
    return Symbol(tok)


class Reader:
    """Reads forms one at a time from a token list; `pos` is the next token."""

    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.last_line = text.count("\n") + 1

    def at_end(self) -> bool:
        """True when every token was read."""
        return self.pos >= len(self.tokens)

    def peek(self) -> Token | None:
        """The next token, not consumed; None at the end."""
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def next(self, expecting: str) -> Token:
        """Consumes the next token; at the end, an EdnError saying what was `expecting`."""
        if self.pos >= len(self.tokens):
            raise EdnError(self.last_line, f"unexpected end of input, expected {expecting}")
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def read(self, depth: int = 0) -> Any:
        """Reads one form (skipping `#_` discards); raises EdnError if malformed."""
        kind, tok, line = self.next("a value")
        if depth > MAX_DEPTH:
            raise EdnError(line, f"nesting deeper than {MAX_DEPTH} levels")
        if kind == "discard":
            self.read(depth + 1)
            return self.read(depth)
        if kind == "tag":
            return self.read(depth)
        if kind == "open":
            return self._collection(tok, line, depth)
        if kind == "close":
            raise EdnError(line, f"unexpected {tok!r}")
        if kind == "string":
            return _string(tok, line)
        if kind == "char":
            name = tok[1:]
            return _CHARS.get(name) or (chr(int(name[1:], 16)) if len(name) == 5 else name)
        return _atom(tok, line)

    def _collection(self, opener: str, line: int, depth: int) -> Any:
        closer = _CLOSE[opener]
        items: list[Any] = []
        while True:
            tok = self.peek()
            if tok is None:
                raise EdnError(line, f"{opener!r} opened here is never closed with {closer!r}")
            if tok[0] == "close":
                self.pos += 1
                if tok[1] != closer:
                    raise EdnError(tok[2], f"expected {closer!r} to close {opener!r} of line "
                                   f"{line}, got {tok[1]!r}")  # fmt: skip
                break
            if tok[0] == "discard":
                self.pos += 1
                self.read(depth + 1)
                continue
            items.append(self.read(depth + 1))
        if opener == "{":
            if len(items) % 2:
                raise EdnError(line, "a map needs an even number of forms (key value pairs)")
            try:
                return dict(zip(items[::2], items[1::2]))
            except TypeError:
                raise EdnError(line, "a map key must not be a map or a set") from None
        if opener == "#{":
            try:
                return frozenset(items)
            except TypeError:
                raise EdnError(line, "a set element must not be a map") from None
        return tuple(items)


def read_top_level(text: str) -> Iterator[tuple[Any, int]]:
    """Yields (form, line) for each element of a history.

    The history is one vector or list of forms, or forms one after another
    (Knossos's CLI reader accepts both); comments may appear anywhere.
    """
    reader = Reader(text)
    first = reader.peek()
    if first is not None and first[0] == "open" and first[1] in ("[", "("):
        reader.pos += 1
        closer = _CLOSE[first[1]]
        while True:
            tok = reader.peek()
            if tok is None:
                raise EdnError(first[2], f"{first[1]!r} opened here is never closed")
            if tok[0] == "close" and tok[1] == closer:
                reader.pos += 1
                break
            yield reader.read(1), tok[2]
        if not reader.at_end():
            tok = reader.tokens[reader.pos]
            raise EdnError(tok[2], f"unexpected {tok[1]!r} after the end of the history")
        return
    while not reader.at_end():
        tok = reader.tokens[reader.pos]
        yield reader.read(), tok[2]
