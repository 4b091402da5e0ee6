"""The history readers: formats, semantics, and bad input naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.linearizable import UNKNOWN, CheckResult, ParseError, check_operations
from checkers.linearizable.edn import EdnError, Keyword, Reader, Symbol
from checkers.linearizable.files import detect_format, load_history, parse_initial_state, parse_text
from checkers.linearizable.models import make_model

ETCD_OK = """INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 1\t:invoke\t:cas\t[1 2]
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1\t:info\t:cas\t:timed-out
INFO  jepsen.util - 2\t:invoke\t:read\tnil
INFO  jepsen.util - 2\t:fail\t:read\t:timed-out
INFO  jepsen.util -   3   :invoke   :read   nil
INFO  jepsen.util -   3   :ok   :read   2
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error_of(path: Path, fmt: str | None = None) -> ParseError:
    with pytest.raises(ParseError) as e:
        load_history(path, fmt)
    return e.value


def test_etcd_log_semantics(tmp_path: Path) -> None:
    h = load_history(write(tmp_path, "e.log", ETCD_OK))
    assert h.format == "etcd-log" and h.suggested_model == "etcd-register"
    by_f = {op.input[0]: op for op in h.operations}
    assert by_f["cas"].output is UNKNOWN  # :info: open until the end
    assert by_f["cas"].return_ > max(op.call for op in h.operations)
    reads = [op for op in h.operations if op.input[0] == "read"]
    assert [r.output for r in reads] == [UNKNOWN, 2]
    assert check_operations(make_model("etcd-register"), h.operations) is CheckResult.OK


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("INFO  jepsen.util - 0\t:invoke\t:read\tnil\ngarbage here\n", 2, "expected 'INFO"),
        ("INFO  jepsen.util - 0\t:invoke\t:cas\t[1]\n", 1, "expected a value"),
        ("INFO  jepsen.util - 0\t:ok\t:read\t1\n", 1, "unmatched return"),
        (
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n"
            "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n",
            2,
            "invokes again",
        ),  # fmt: skip
        (
            "INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:fail\t:write\t1\n",
            2,
            "not a known completion",
        ),  # fmt: skip
    ],
)
def test_etcd_log_bad_input(tmp_path: Path, text: str, line: int, what: str) -> None:
    p = write(tmp_path, "bad.log", text)
    err = error_of(p, "etcd-log")
    assert err.line == line and what in err.message and str(p) in str(err)
    assert f"{p}:{line}:" in str(err)


KNOSSOS = """; a comment
[{:process 0, :type :invoke, :f :write, :value 1}
 {:process 1, :type :invoke, :f :read, :value nil}
 {:process :nemesis, :type :info, :f :start, :value nil}
 {:process 0, :type :ok, :f :write, :value 1}
 {:process 2, :type :invoke, :f :write, :value 3}
 {:process 2, :type :fail, :f :write, :value 3, :error [:timeout nil]}
 {:process 3,
  :type :invoke, :f :cas, :value [1 4]}
 {:process 3, :type :info, :f :cas, :value [1 4]}
 {:process 1, :type :ok, :f :read, :value nil}
 {:process 4, :type :invoke, :f :read, :value nil}]
"""


def test_knossos_edn_semantics(tmp_path: Path) -> None:
    h = load_history(write(tmp_path, "k.edn", KNOSSOS))
    assert h.format == "edn" and h.suggested_model == "cas-register"
    fs = sorted(op.input[0] for op in h.operations)
    assert fs == ["cas", "read", "read", "write"]  # the failed write is dropped
    outs = {(op.input[0], op.output) for op in h.operations}
    assert ("read", UNKNOWN) in outs  # a nil read is unknown
    assert ("cas", UNKNOWN) in outs  # :info stays open
    assert check_operations(make_model("cas-register", 0), h.operations) is CheckResult.OK


def test_bare_edn_maps_and_kv_lines_are_read(tmp_path: Path) -> None:
    text = (
        '{:process 0, :type :invoke, :f :append, :key "1", :value "x 0 0 y"}\n'
        '{:process 0, :type :ok, :f :append, :key "1", :value "x 0 0 y"}\n'
        '{:process 1, :type :invoke, :f :get, :key "1", :value nil}\n'
        '{:process 1, :type :ok, :f :get, :key "1", :value "x 0 0 y"}\n'
    )
    h = load_history(write(tmp_path, "c.txt", text))
    assert h.suggested_model == "kv" and len(h.operations) == 2
    assert check_operations(make_model("kv"), h.operations) is CheckResult.OK


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok\n", 2, "never closed"),
        (
            "[{:process 0 :type :invoke :f :read}\n {:process 1, :type :ok, :f :read, :value 1}]",
            2,
            "unmatched return",
        ),  # fmt: skip
        ("[{:process 0, :type :invoke, :f :frob}]", 1, "unknown :f"),
        ("[{:process 0, :type :invoke}]", 1, "needs :process, :type and :f"),
        ("[1 2]", 1, "expected an op map"),
        ('[\n{:process 0, :type :invoke, :f :read, :value "abc}]', 2, "unterminated string"),
        ("[\n\n{:process 0, :type :invoke, :f :cas, :value 3}]", 3, "needs :value [from to]"),
        ("[{:a 1 :b}]", 1, "even number"),
        ("[" * 200, 1, "nesting deeper"),
        ("[{:process 0, :type :invoke, :f :read}\n)", 2, "unexpected ')'"),
    ],
)
def test_edn_bad_input(tmp_path: Path, text: str, line: int, what: str) -> None:
    p = write(tmp_path, "bad.edn", text)
    err = error_of(p, "edn")
    assert what in err.message, err
    assert err.line == line and f"{p}:{line}:" in str(err)


def test_keywords_are_shared_per_name_and_hash_like_their_name() -> None:
    """Models look keywords up at every step: one object per name matches by identity."""
    first, second = Reader("[:x :x]").read()
    assert first is second and first == Keyword("x") and hash(first) == hash("x")
    assert first != "x" and first != Symbol("x")


def test_edn_reader_values() -> None:
    v = Reader('{:a [1 -2 3.5 "s\\n"] :b #{nil true} :c #_ 9 (x) :d \\space}').read()
    assert v == {
        Keyword("a"): (1, -2, 3.5, "s\n"),
        Keyword("b"): frozenset({None, True}),
        Keyword("c"): (Symbol("x"),),
        Keyword("d"): " ",
    }
    with pytest.raises(EdnError):
        Reader("12abc").read()


def jsonl(*records: dict) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def rec(i: int, process: int | str, type_: str, f: str, **kw: object) -> dict:
    return {"index": i, "time": i, "process": process, "type": type_, "f": f, **kw}


def test_sibyl_jsonl_semantics(tmp_path: Path) -> None:
    fault = {"id": 7, "kind": "partition", "shape": "halves"}
    text = jsonl(
        rec(0, 0, "invoke", "write", key="a", value=1),
        rec(1, "nemesis", "info", "start", value=fault),
        rec(2, 0, "fail", "write", key="a", value=1, error="timeout"),
        rec(3, 1, "invoke", "read", key="a"),
        rec(4, 1, "ok", "read", key="a", siblings=[1]),
        rec(5, "nemesis", "info", "stop", value={"id": 7, "kind": "partition"}),
        rec(6, 2, "invoke", "cas", key="b", value=[None, 2]),
        rec(7, 2, "ok", "cas", key="b", value=[None, 2]),
        rec(8, "checker", "ok", "replica-read", key="a"),
    )
    h = load_history(write(tmp_path, "history.jsonl", text))
    assert h.format == "jsonl" and len(h.operations) == 3
    assert [a.label for a in h.annotations] == ["partition halves"]
    write_op = next(op for op in h.operations if op.input[0] == "write")
    assert write_op.output is UNKNOWN  # a failed put may have landed
    assert check_operations(make_model("register"), h.operations) is CheckResult.OK


@pytest.mark.parametrize(
    ("records", "line", "what"),
    [
        (
            [{"index": 0, "time": 0, "process": 0, "type": "ok", "f": "read", "key": "a"}],
            1,
            "unmatched return",
        ),  # fmt: skip
        (
            [{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "add", "key": "a"}],
            1,
            "register ops",
        ),  # fmt: skip
        (
            [{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "cas", "value": 3}],
            1,
            "value [from, to]",
        ),  # fmt: skip
        (
            [{"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "read"}, {"index": 1}],
            2,
            "missing field",
        ),  # fmt: skip
    ],
)
def test_sibyl_jsonl_bad_input(tmp_path: Path, records: list, line: int, what: str) -> None:
    p = write(tmp_path, "h.jsonl", jsonl(*records))
    err = error_of(p, "jsonl")
    assert what in err.message and err.line == line and f"{p}:{line}:" in str(err)


def test_a_broken_json_line_is_named(tmp_path: Path) -> None:
    good = {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "read", "key": "a"}
    p = write(tmp_path, "h.jsonl", jsonl(good) + "\n{not json\n")
    err = error_of(p, "jsonl")
    assert err.line == 3 and "not valid JSON" in err.message


def test_format_detection(tmp_path: Path) -> None:
    assert detect_format(ETCD_OK) == "etcd-log"
    assert detect_format(KNOSSOS) == "edn"
    assert detect_format('{:process 0, :type :invoke, :f :get, :key "1"}') == "edn"
    assert detect_format('\n{"index": 0}\n') == "jsonl"
    assert detect_format("") == "edn"
    with pytest.raises(ParseError, match="cannot tell the format"):
        detect_format("hello\n", "f.txt")
    err = error_of(tmp_path / "missing.edn")
    assert "cannot read the file" in err.message
    binary = tmp_path / "b.edn"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "not UTF-8" in error_of(binary).message


def test_initial_states() -> None:
    assert parse_initial_state(None) is None
    assert parse_initial_state("0") == 0
    assert parse_initial_state("{:x 0 :y 0}") == {Keyword("x"): 0, Keyword("y"): 0}
    with pytest.raises(ValueError, match="neither JSON nor EDN"):
        parse_initial_state("{:x")
    with pytest.raises(ValueError, match="text after the first value"):
        parse_initial_state("garbage{")


@pytest.mark.parametrize(
    ("model", "init", "message"),
    [
        ("cas-register", "{:x 0}", "starts from one value"),
        ("cas-register", "[1 2]", "not a list"),
        ("cas-register", "garbage", "bare word"),
        ("kv", "5", "takes no initial state"),
        ("multi-register", "0", "map of keys to values"),
        ("mutex", "0", "unlocked or locked"),
    ],
)
def test_a_model_refuses_an_initial_state_it_cannot_start_from(
    model: str, init: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        make_model(model, parse_initial_state(init))


def test_a_mutex_may_start_locked() -> None:
    model = make_model("mutex", parse_initial_state("locked"))
    assert model.init() is True
    assert make_model("mutex", parse_initial_state("unlocked")).init() is False


SAMPLES = {
    "etcd-log": ETCD_OK,
    "edn": KNOSSOS,
    "jsonl": jsonl(
        rec(0, 0, "invoke", "cas", key="a", value=[1, 2]),
        rec(1, 0, "ok", "read", key="a", siblings=[{"value": 1}]),
    ),
}


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(SAMPLES)),
    st.integers(0, 10_000),
    st.integers(0, 6),
    st.text(alphabet='[](){}":;,#\\\\ \n\t0123456789-:abcdefinlxy_', max_size=12),
)
def test_mangled_input_only_ever_raises_parse_error(fmt: str, at: int, cut: int, junk: str) -> None:
    text = SAMPLES[fmt]
    at %= len(text) + 1
    mangled = text[:at] + junk + text[at + cut :]
    for f in (fmt, None):
        try:
            parsed = parse_text(mangled, f, "fuzz")
        except ParseError as e:
            assert e.source == "fuzz" and e.line >= 0
            continue
        model = make_model(parsed.suggested_model, 0)
        assert check_operations(model, parsed.operations, timeout=2) in CheckResult


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("edn", "[" + "9" * 5000 + "]"),
        ("etcd-log", "INFO  jepsen.util - " + "9" * 5000 + "\t:invoke\t:read\tnil\n"),
        ("jsonl", '{"index": ' + "9" * 5000 + "}\n"),
        ("jsonl", "[" * 100_000 + "\n"),
        ("edn", "[{:process 0, :type :invoke, :f :write, :value {:a 1}}]"),
        ("edn", '[{:process 0, :type :invoke, :f :append, :key "k", :value 3}]'),
    ],
)
def test_pathological_input_is_a_parse_error(fmt: str, text: str) -> None:
    with pytest.raises(ParseError):
        parse_text(text, fmt, "odd")
