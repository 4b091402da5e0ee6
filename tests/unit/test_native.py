"""The optional mypyc build: which modules are in use, and that a stale build is never used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from pytest import MonkeyPatch

import checkers.linearizable
import native


def test_states_which_build_is_in_use_and_uses_all_or_none() -> None:
    used = native.in_use("checkers")
    stamp = native.build_dir() / "DIGEST"
    current = stamp.is_file() and stamp.read_text().strip() == native.source_digest()
    active = checkers.linearizable.ACTIVE
    print(f"compiled modules: {'mypyc-compiled' if active else 'pure Python'} {used}")
    assert active == (current and not os.environ.get(native.DISABLE_ENV))
    assert set(used.values()) == {active}


def test_the_tests_run_the_node_from_its_sources() -> None:
    """Tests patch node modules in this process (as planted bugs do): they must be Python."""
    assert not native.opted_in("node"), f"unset {native.OPT_IN['node']} to run the tests"
    assert set(native.in_use("node").values()) == {False}
    assert not native.opted_in("harness")  # its compiled modules call the node's natively
    assert set(native.in_use("harness").values()) == {False}


def test_a_stale_build_is_not_put_on_the_path(tmp_path: Path, monkeypatch: MonkeyPatch) -> None:
    monkeypatch.setattr(native, "build_dir", lambda: tmp_path)
    monkeypatch.setattr(native, "_current", None)
    monkeypatch.delenv(native.DISABLE_ENV, raising=False)
    monkeypatch.setattr(sys, "path", list(sys.path))
    path: list[str] = []
    assert not native.activate("checkers.linearizable", path)  # no build at all
    (tmp_path / "DIGEST").write_text("0" * 64 + "\n")
    monkeypatch.setattr(native, "_current", None)
    assert not native.activate("checkers.linearizable", path) and path == []  # other sources
    (tmp_path / "DIGEST").write_text(native.source_digest() + "\n")
    monkeypatch.setattr(native, "_current", None)
    assert not native.activate("native", path) and path == []  # nothing compiled there
    assert native.activate("checkers.linearizable", path)
    assert path == [str(tmp_path / "checkers" / "linearizable")]


def test_the_node_build_is_used_only_where_a_process_opts_in_without_intercepts(
    tmp_path: Path, monkeypatch: MonkeyPatch
) -> None:
    """Planted bugs patch the node: its build must never be on the path where one may load."""
    monkeypatch.setattr(native, "build_dir", lambda: tmp_path)
    monkeypatch.setattr(native, "_current", None)
    monkeypatch.setattr(sys, "path", list(sys.path))
    (tmp_path / "DIGEST").write_text(native.source_digest() + "\n")
    refused = ({}, {"SIBYL_NATIVE_NODE": "0"}, {"SIBYL_NATIVE_NODE": "1", "SIBYL_INTERCEPTS": "m"})
    for env in refused:
        for name in ("SIBYL_NATIVE_NODE", "SIBYL_INTERCEPTS", native.DISABLE_ENV):
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        path: list[str] = []
        assert not native.activate("node.sim", path) and path == [], env
    monkeypatch.delenv("SIBYL_INTERCEPTS")
    monkeypatch.setenv("SIBYL_NATIVE_NODE", "1")
    path = []
    assert native.activate("node.sim", path) and path == [str(tmp_path / "node" / "sim")]


@pytest.mark.parametrize("edited", [native.COMPILED[-1], "node.config"])
def test_an_edit_to_any_source_of_a_compiled_package_retires_the_whole_build(
    edited: str, tmp_path: Path, monkeypatch: MonkeyPatch
) -> None:
    """Compiled modules call each other natively, so one stale module retires them all;
    and mypyc may build in what it knew of a module it did not compile (a hidden planted
    bug may be an edit to any node source)."""
    before = native.source_digest()
    for path in native.digested():
        copy = tmp_path / path.relative_to(native.ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_bytes(path.read_bytes())
    monkeypatch.setattr(native, "ROOT", tmp_path)
    assert native.source_digest() == before
    assert edited not in native.COMPILED or edited == native.COMPILED[-1]
    path = native.source_path(edited)
    path.write_text(path.read_text() + "\n# a planted bug\n")
    assert native.source_digest() != before


def test_disabling_falls_back_to_the_python_sources() -> None:
    code = "import checkers.linearizable as c, native; print(c.ACTIVE, native.in_use())"
    env = {**os.environ, native.DISABLE_ENV: "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False {") and "True" not in out.stdout


def test_the_node_runs_from_its_sources_outside_the_checkout_too(tmp_path: Path) -> None:
    """Run from elsewhere (the sources found by the install, after `sys.path`), a process
    that activated the checkers' build still imports the node from its sources: the build's
    top is never on the path (there, its `node` would be a namespace package)."""
    code = ("import checkers.linearizable as c, node.sim.cluster as m, sys; "
            f"print(c.ACTIVE, m.__file__, {str(native.ROOT)!r} in sys.path)")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", *native.OPT_IN.values())}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    active, module, on_path = out.stdout.split()
    assert module == str(native.ROOT / "node" / "sim" / "cluster.py"), out.stdout
    assert active == str(native.current()) and on_path == "False"


def test_no_test_patches_a_compiled_module() -> None:
    """A compiled module calls its own functions directly: a test that patched one would
    run against the unpatched code and assert nothing. Patched modules stay Python, or are
    used compiled only where a process opts in, which no test process does (see above)."""
    tests = Path(__file__).resolve().parents[1]
    patched = []
    for path in tests.rglob("*.py"):
        text = path.read_text()
        for module in native.COMPILED:
            if module.partition(".")[0] in native.OPT_IN:
                continue
            name = module.rpartition(".")[2]
            forms = (
                rf"setattr\(\s*{name}\s*,",
                rf"[\"']{re.escape(module)}\.",
                rf"^\s*{name}\.\w+\s*=",
            )
            if any(re.search(f, text, re.M) for f in forms):
                patched.append(f"{path.name} patches {module}")
    assert patched == []
