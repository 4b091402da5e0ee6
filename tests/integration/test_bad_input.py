"""Every user mistake gets one clear message, exit 254, and no traceback.

One row per mistake. Each row runs the real command in a child process (the
`sibyl` entry point, or `python -m node`), in a fresh folder, and asserts:
- the exit status (254 for bad arguments or unusable input);
- that nothing printed is a Python traceback;
- that the message names the input (the option, file, host or port given).

A row's `setup` makes what the mistake needs (a file where a folder belongs, a
port that is taken, a truncated history) and returns values to put in its
command line, so each row reads as the command a user typed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.runner import RunConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
ETCD = REPO_ROOT / "tests" / "corpora" / "porcupine" / "test_data" / "jepsen" / "etcd_000.log"
USAGE = 254

Setup = Callable[[Path, "Held"], dict[str, str]]


@dataclass
class Held:
    """Sockets a row keeps bound while its command runs (closed afterwards)."""

    sockets: list[socket.socket] = field(default_factory=list)

    def taken_port(self) -> int:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen()
        self.sockets.append(s)
        return int(s.getsockname()[1])

    def closed_port(self) -> int:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
        s.close()  # nothing listens there now: a connection is refused
        return port


@dataclass(frozen=True)
class Case:
    """One mistake: the command (with {placeholders} from `setup`), and what the
    message must name."""

    id: str
    argv: tuple[str, ...]
    names: tuple[str, ...]
    setup: Setup | None = None
    code: int = USAGE
    node: bool = False  # `python -m node` instead of `sibyl`


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _jsonl(*records: dict[str, object]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


WRITE_INVOKE = {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "write",
                "key": "k", "value": 1}  # fmt: skip


def a_file(tmp: Path, held: Held) -> dict[str, str]:
    return {"file": str(_write(tmp / "not-a-folder", "x"))}


def empty_history(tmp: Path, held: Held) -> dict[str, str]:
    return {"h": str(_write(tmp / "empty.jsonl", ""))}


def blank_history(tmp: Path, held: Held) -> dict[str, str]:
    return {"h": str(_write(tmp / "blank.jsonl", "\n\n   \n"))}


def truncated_history(tmp: Path, held: Held) -> dict[str, str]:
    text = _jsonl(WRITE_INVOKE) + '{"index": 1, "time": 1, "process": 0, "type": "ok", "f": "wr'
    return {"h": str(_write(tmp / "truncated.jsonl", text))}


def random_bytes(tmp: Path, held: Held) -> dict[str, str]:
    return {"h": str(_write(tmp / "random.bin", bytes(range(256)) * 3))}


def unmatched_return(tmp: Path, held: Held) -> dict[str, str]:
    ok = {**WRITE_INVOKE, "type": "ok"}
    return {"h": str(_write(tmp / "unmatched.jsonl", _jsonl(ok)))}


def double_invoke(tmp: Path, held: Held) -> dict[str, str]:
    again = {**WRITE_INVOKE, "index": 1, "time": 1, "value": 2}
    return {"h": str(_write(tmp / "double.jsonl", _jsonl(WRITE_INVOKE, again)))}


def register_history(tmp: Path, held: Held) -> dict[str, str]:
    ok = {**WRITE_INVOKE, "index": 1, "time": 1, "type": "ok"}
    return {"h": str(_write(tmp / "register.jsonl", _jsonl(WRITE_INVOKE, ok)))}


def run_dir(tmp: Path, held: Held, history: str = "") -> dict[str, str]:
    """A stored run as `sibyl run` lays it out: config.json and history.jsonl."""
    d = tmp / "store" / "cart-sloppy-siblings" / "20260101T000000"
    d.mkdir(parents=True)
    _write(d / "config.json", json.dumps(RunConfig(seed=1).to_dict()))
    _write(d / "history.jsonl", history)
    return {"run": str(d)}


def run_without_ops(tmp: Path, held: Held) -> dict[str, str]:
    nemesis = {"index": 0, "time": 0, "process": "nemesis", "type": "info", "f": "start"}
    return run_dir(tmp, held, _jsonl(nemesis))


def cart_run(tmp: Path, held: Held) -> dict[str, str]:
    add = {"index": 0, "time": 0, "process": 0, "type": "invoke", "f": "add", "key": "c",
           "value": 1}  # fmt: skip
    return run_dir(tmp, held, _jsonl(add, {**add, "index": 1, "time": 1, "type": "ok"}))


def node_config(tmp: Path, listen: str) -> str:
    text = f'name = "n1"\nlisten = "{listen}"\ndata_dir = "{tmp / "data"}"\n'
    text += f'\n[[members]]\nname = "n1"\naddr = "{listen}"\n'
    return str(_write(tmp / "node.toml", text))


def taken_node_port(tmp: Path, held: Held) -> dict[str, str]:
    port = held.taken_port()
    return {"cfg": node_config(tmp, f"127.0.0.1:{port}"), "port": str(port)}


def bad_node_port(tmp: Path, held: Held) -> dict[str, str]:
    return {"cfg": node_config(tmp, "127.0.0.1:99999")}


def bad_node_field(tmp: Path, held: Held) -> dict[str, str]:
    cfg = Path(node_config(tmp, "127.0.0.1:7000"))
    cfg.write_text("n = 0\n" + cfg.read_text())
    return {"cfg": str(cfg)}


def taken_port(tmp: Path, held: Held) -> dict[str, str]:
    (tmp / "store").mkdir()
    return {"port": str(held.taken_port())}


def closed_port(tmp: Path, held: Held) -> dict[str, str]:
    return {"port": str(held.closed_port())}


def bad_proxy_config(tmp: Path, held: Held) -> dict[str, str]:
    return {"cfg": str(_write(tmp / "proxies.json", '[{"name": "a", "upstream": '))}


CASES = [
    # sibyl run: options
    Case("run-store-is-a-file", ("run", "--store", "{file}"), ("--store", "{file}"), a_file),
    Case("run-store-below-a-file", ("run", "--store", "{file}/runs"), ("{file}",), a_file),
    Case("run-n-above-nodes", ("run", "--nodes", "5", "--n", "7"), ("--n 7", "--nodes")),
    Case("run-r-above-n", ("run", "--r", "4"), ("--r 4",)),
    Case("run-negative-quiesce", ("run", "--quiesce", "-1"), ("--quiesce",)),
    Case("run-negative-time-limit", ("run", "--time-limit", "-3"), ("--time-limit",)),
    Case("run-negative-rate", ("run", "--rate", "-5"), ("--rate",)),
    Case("run-zero-concurrency", ("run", "--concurrency", "0"), ("--concurrency",)),
    Case("run-unknown-nemesis", ("run", "--nemesis", "partition,flood"), ("flood",)),
    Case(
        "run-partition-on-one-node",
        ("run", "--nodes", "1", "--n", "1", "--r", "1", "--w", "1", "--nemesis", "partition"),
        ("partition", "2 nodes"),
    ),  # fmt: skip
    Case("run-missing-intercept", ("run", "--intercept", "no.such.module"), ("no.such.module",)),
    Case("run-unknown-workload", ("run", "--workload", "queue"), ("--workload", "queue")),
    Case("run-unknown-option", ("run", "--writers", "3"), ("--writers",)),
    Case("run-not-a-number", ("run", "--nodes", "five"), ("--nodes", "five")),
    Case("no-command", (), ("COMMAND",)),
    Case("replay-not-a-run", ("replay", "{file}"), ("{file}", "run directory"), a_file),
    # sibyl check: options and histories
    Case("check-missing-path", ("check", "nope.jsonl"), ("nope.jsonl",)),
    Case(
        "check-html-into-missing-folder",
        ("check", str(ETCD), "--html", "no/such/dir/v.html"),
        ("no/such/dir",),
    ),  # fmt: skip
    Case("check-html-is-a-folder", ("check", str(ETCD), "--html", "."), ("--html",)),
    Case("check-negative-timeout", ("check", str(ETCD), "--timeout", "-1"), ("--timeout",)),
    Case(
        "check-init-map-for-a-register",
        ("check", str(ETCD), "--model", "cas-register", "--init", "{:x 0}"),
        ("cas-register", "{:x: 0}"),
    ),  # fmt: skip
    Case("check-init-garbage", ("check", str(ETCD), "--init", "garbage{"), ("garbage{",)),
    Case("check-init-for-kv", ("check", str(ETCD), "--model", "kv", "--init", "5"), ("kv",)),
    Case("check-wrong-model", ("check", str(ETCD), "--model", "kv"), ("kv", "cas")),
    Case("check-unknown-model", ("check", str(ETCD), "--model", "queue"), ("--model", "queue")),
    Case("check-empty-history", ("check", "{h}"), ("{h}", "no operations"), empty_history),
    Case("check-blank-history", ("check", "{h}"), ("{h}", "no operations"), blank_history),
    Case("check-truncated-history", ("check", "{h}"), ("{h}:2",), truncated_history),
    Case("check-random-bytes", ("check", "{h}"), ("{h}",), random_bytes),
    Case("check-unmatched-return", ("check", "{h}"), ("{h}:1", "unmatched"), unmatched_return),
    Case("check-double-invoke", ("check", "{h}"), ("{h}:2", "invokes again"), double_invoke),
    Case(
        "check-dynamo-checker-on-a-file",
        ("check", "{h}", "--checker", "lost_adds"),
        ("lost_adds", "run directory"),
        register_history,
    ),  # fmt: skip
    Case(
        "check-run-html-for-lost-adds",
        ("check", "{run}", "--checker", "lost_adds", "--html", "v.html"),
        ("--html", "lost_adds"),
        cart_run,
    ),  # fmt: skip
    Case(
        "check-run-without-ops", ("check", "{run}"), ("history.jsonl", "no client"), run_without_ops
    ),  # fmt: skip
    Case("check-not-a-run-dir", ("check", "."), ("run directory",)),
    # sibyl cluster, kv, serve, toxiproxy, demo
    Case("cluster-up-zero-nodes", ("cluster", "up", "--nodes", "0"), ("--nodes",)),
    Case("cluster-up-dir-is-a-file", ("cluster", "up", "--dir", "{file}"), ("{file}",), a_file),
    Case("cluster-down-no-cluster", ("cluster", "down", "--dir", "nothing"), ("nothing",)),
    Case("cluster-up-old-option-name", ("cluster", "up", "--quorum", "strict"), ("--quorum",)),
    Case("kv-no-cluster", ("kv", "--dir", "nothing", "get", "k"), ("nothing",)),
    Case(
        "kv-unreachable-node",
        ("kv", "--node", "127.0.0.1:{port}", "get", "k"),
        ("127.0.0.1:{port}", "cluster up"),
        closed_port,
    ),  # fmt: skip
    Case("kv-bad-node-address", ("kv", "--node", "localhost", "get", "k"), ("--node",)),
    Case(
        "kv-context-not-base64",
        ("kv", "--node", "127.0.0.1:1", "put", "k", "v", "--context", "%%%"),
        ("--context",),
    ),  # fmt: skip
    Case("serve-no-store", ("serve", "--store", "nothing"), ("nothing",)),
    Case(
        "serve-port-taken",
        ("serve", "--store", "store", "--port", "{port}"),
        ("{port}", "--port"),
        taken_port,
    ),  # fmt: skip
    Case("toxiproxy-port-taken", ("toxiproxy", "--port", "{port}"), ("{port}",), taken_port),
    Case(
        "toxiproxy-bad-config",
        ("toxiproxy", "--port", "0", "--config", "{cfg}"),
        ("{cfg}",),
        bad_proxy_config,
    ),  # fmt: skip
    Case("demo-zero-writers", ("demo", "--writers", "0"), ("--writers",)),
    # the node itself
    Case(
        "node-port-taken",
        ("--config", "{cfg}"),
        ("127.0.0.1:{port}", "{cfg}"),
        taken_node_port,
        node=True,
    ),  # fmt: skip
    Case(
        "node-port-out-of-range",
        ("--config", "{cfg}"),
        ("listen", "99999"),
        bad_node_port,
        node=True,
    ),  # fmt: skip
    Case("node-bad-field", ("--config", "{cfg}"), ("{cfg}", "n"), bad_node_field, node=True),
    Case("node-missing-config", ("--config", "missing.toml"), ("missing.toml",), node=True),
    Case(
        "node-missing-intercept",
        ("--config", "{cfg}"),
        ("SIBYL_INTERCEPTS", "no.such"),
        bad_node_port,
        node=True,
    ),  # fmt: skip
]


def fill(text: str, values: dict[str, str]) -> str:
    """`text` with each `{name}` replaced by its value (other braces are left alone)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


@pytest.fixture
def held() -> Iterator[Held]:
    h = Held()
    yield h
    for s in h.sockets:
        s.close()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_mistake_gets_one_clear_message(
    case: Case,
    tmp_path: Path,
    held: Held,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = case.setup(tmp_path, held) if case.setup is not None else {}
    argv = [fill(a, values) for a in case.argv]
    monkeypatch.chdir(tmp_path)
    if case.node:
        code, said = run_node(argv, tmp_path, case.id == "node-missing-intercept")
    else:
        code, said = run_sibyl(argv, capsys)
    assert code == case.code, f"exit {code}, said:\n{said}"
    assert "Traceback" not in said, said
    for name in case.names:
        assert fill(name, values) in said, f"{fill(name, values)!r} not named in:\n{said}"


def run_sibyl(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`sibyl ARGV` in this process, as its console script runs it: (status, output)."""
    from harness.cli import main

    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own exit, as the console script would see it
        code = e.code if isinstance(e.code, int) else 1
    out = capsys.readouterr()
    return code, out.out + out.err


def run_node(argv: list[str], cwd: Path, bad_intercept: bool) -> tuple[int, str]:
    """`python -m node ARGV` in a child process: (status, output)."""
    env = {**os.environ}
    if bad_intercept:
        env["SIBYL_INTERCEPTS"] = "no.such.intercept"
    proc = subprocess.run([sys.executable, "-m", "node", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("argv", [["run", "--writers", "3"], ["check", "no-such-file"]])
def test_the_process_exits_254(argv: list[str], tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.cli", *argv], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == USAGE, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") <= 3, proc.stderr


def test_there_are_at_least_twenty_cases() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 20
