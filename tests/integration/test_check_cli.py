"""`sibyl check FILE --checker linearizable`: verdicts as exit codes 0 / 1 / 2.

Most tests drive the command's own parser (as `harness.cli` registers it), so
they do not depend on the other commands; the last runs the real `sibyl`
entry point in a subprocess.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.cli import SibylParser
from harness.commands import check
from harness.errors import ExitCode, UsageError

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPORA = REPO_ROOT / "tests" / "corpora"


def main(argv: list[str]) -> int:
    """Parses `argv` like `sibyl` does for its `check` command and runs it (a bad input
    gives 254, as `harness.cli` makes of a UsageError)."""
    parser = SibylParser(prog="sibyl")
    check.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError:
        return int(ExitCode.USAGE)


DEFAULTS = {"checker": None, "model": None, "format": None, "init": None, "timeout": 60.0,
            "html": None, "verbose": False, "json": False}  # fmt: skip


def corpus_file(rel: str) -> Path:
    p = CORPORA / rel
    if not p.is_file():
        pytest.fail(f"the test corpora are missing: expected {p} (they ship in tests/corpora)")
    return p


def register_history(tmp_path: Path, read_value: int) -> Path:
    base = {"f": "write", "key": "k", "value": 5}
    recs = [
        {"index": 0, "time": 0, "process": 0, "type": "invoke", **base},
        {"index": 1, "time": 1, "process": 0, "type": "ok", **base},
        {"index": 2, "time": 2, "process": 1, "type": "invoke", "f": "read", "key": "k"},
        {"index": 3, "time": 3, "process": 1, "type": "ok", "f": "read", "key": "k",
         "siblings": [read_value]},
    ]  # fmt: skip
    p = tmp_path / "history.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs), encoding="utf-8")
    return p


def test_ok_history_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = register_history(tmp_path, 5)
    assert main(["check", str(path), "--checker", "linearizable", "--model", "register"]) == 0
    assert ": ok (" in capsys.readouterr().out


def test_illegal_history_exits_1_and_names_the_op(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = register_history(tmp_path, 4)
    html = tmp_path / "out.html"
    assert main(["check", str(path), "--html", str(html)]) == 1
    out = capsys.readouterr().out
    assert "illegal" in out and "first illegal operation: client 1: read[k]() -> 4" in out
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_corpus_files_with_detected_formats(capsys: pytest.CaptureFixture[str]) -> None:
    etcd = corpus_file("porcupine/test_data/jepsen/etcd_000.log")
    assert main(["check", str(etcd), "--model", "etcd-register"]) == 1
    kv = corpus_file("porcupine/test_data/kv/c01-ok.txt")
    assert main(["check", str(kv), "--model", "kv"]) == 0
    multi = corpus_file("knossos/data/multi-register/good/multi-register.edn")
    args = ["check", str(multi), "--model", "multi-register", "--init", "{:x 0 :y 0}"]
    assert main(args + ["--format", "edn", "--verbose"]) == 0


def test_timeout_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # 16 concurrent appends and a put of "" (the kv model's growth hints cannot see past
    # it), then a get no order explains: the search must try every order
    put = '{:process 50, :type %s, :f :put, :key "k", :value ""}'
    lines = [
        f'{{:process {i}, :type :invoke, :f :append, :key "k", :value "<{i}>"}}' for i in range(16)
    ]
    lines += [put % ":invoke", put % ":ok"]
    lines += [
        f'{{:process {i}, :type :ok, :f :append, :key "k", :value "<{i}>"}}' for i in range(16)
    ]
    lines += ['{:process 99, :type :invoke, :f :get, :key "k", :value nil}',
              '{:process 99, :type :ok, :f :get, :key "k", :value "nope"}']  # fmt: skip
    p = tmp_path / "hard.edn"
    p.write_text("\n".join(lines), encoding="utf-8")
    assert main(["check", str(p), "--model", "kv", "--timeout", "0.3"]) == 2
    assert "unknown" in capsys.readouterr().out


def test_bad_input_exits_254_naming_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "bad.log"
    p.write_text("INFO  jepsen.util - 0\t:invoke\t:read\tnil\nnonsense\n", encoding="utf-8")
    with pytest.raises(UsageError, match=f"{p}:2:"):
        check._run(argparse.Namespace(**{**DEFAULTS, "path": str(p), "format": "etcd-log"}))
    assert main(["check", str(p), "--format", "etcd-log"]) == 254
    assert main(["check", str(tmp_path / "missing.jsonl")]) == 254
    assert main(["check", str(p), "--init", "{:x"]) == 254


def test_a_directory_that_is_not_a_run_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(UsageError, match="is not a run directory"):
        check._run(argparse.Namespace(**{**DEFAULTS, "path": str(tmp_path)}))
    assert main(["check", str(tmp_path)]) == 254


def test_unknown_checker_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as e:
        main(["check", str(tmp_path), "--checker", "nope"])
    assert e.value.code == 254


def test_through_the_sibyl_command_line(tmp_path: Path) -> None:
    # imported here, so that a broken sibling command cannot break this module's collection
    from harness.cli import main as sibyl_main

    assert sibyl_main(["check", str(register_history(tmp_path, 5))]) == 0


@pytest.mark.parametrize(("read_value", "status"), [(5, 0), (4, 1), (None, 254)])
def test_the_process_exit_status(tmp_path: Path, read_value: int | None, status: int) -> None:
    path = register_history(tmp_path, read_value) if read_value is not None else tmp_path
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "check", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert proc.returncode == status, proc.stderr


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(register_history(tmp_path, 4)), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["valid"] is False and result["anomalies"][0]["op"] == "read[k]() -> 4"


def register_run(tmp_path: Path, read_value: int) -> Path:
    """A stored register run (config.json + history.jsonl, as `sibyl run` lays them out)."""
    from harness.runner import RunConfig

    run = tmp_path / "store" / "register-sloppy-siblings" / "20260101T000000"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps(RunConfig(workload="register", seed=3).to_dict()))
    register_history(run, read_value)
    return run


def test_a_run_directory_with_linearizable_options_writes_the_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = register_run(tmp_path, 4)
    html = tmp_path / "view.html"
    assert main(["check", str(run), "--checker", "linearizable", "--html", str(html)]) == 1
    assert html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert "first illegal operation" in capsys.readouterr().out
    assert not (run / "results.json").exists(), "a one-checker check must not rewrite the run"


def test_rechecking_a_run_announces_the_rewrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = register_run(tmp_path, 5)
    assert main(["check", str(run)]) == 0
    out = capsys.readouterr().out
    assert f"rewrote results.json, junit.xml and report.html in {run}" in out
    assert json.loads((run / "results.json").read_text())["valid"] is True
    assert main(["check", str(run), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True and "linearizable" in doc["checkers"]


def test_a_run_directory_refuses_a_checker_its_workload_lacks(tmp_path: Path) -> None:
    run = register_run(tmp_path, 5)
    with pytest.raises(UsageError, match="no checker 'lost_adds'"):
        check._run(argparse.Namespace(**{**DEFAULTS, "path": str(run), "checker": "lost_adds"}))
