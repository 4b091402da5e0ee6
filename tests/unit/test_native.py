"""The optional mypyc build: which modules are in use, and that a stale build is never used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from pytest import MonkeyPatch

import checkers.linearizable
import native


def test_states_which_build_is_in_use_and_uses_all_or_none() -> None:
    used = native.in_use()
    stamp = native.build_dir() / "DIGEST"
    current = stamp.is_file() and stamp.read_text().strip() == native.source_digest()
    active = checkers.linearizable.ACTIVE
    print(f"compiled modules: {'mypyc-compiled' if active else 'pure Python'} {used}")
    assert active == (current and not os.environ.get(native.DISABLE_ENV))
    assert set(used.values()) == {active}


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
    assert not native.activate("workloads", path) and path == []  # nothing compiled there
    assert native.activate("checkers.linearizable", path)
    assert path == [str(tmp_path / "checkers" / "linearizable")]


def test_an_edit_to_any_compiled_source_retires_the_whole_build(
    tmp_path: Path, monkeypatch: MonkeyPatch
) -> None:
    """Compiled modules call each other natively, so one stale module retires them all."""
    before = native.source_digest()
    for module in native.COMPILED:
        copy = tmp_path / module.replace(".", "/")
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.with_suffix(".py").write_bytes(native.source_path(module).read_bytes())
    monkeypatch.setattr(native, "ROOT", tmp_path)
    assert native.source_digest() == before
    edited = native.source_path(native.COMPILED[-1])
    edited.write_text(edited.read_text() + "\n# a planted bug\n")
    assert native.source_digest() != before


def test_disabling_falls_back_to_the_python_sources() -> None:
    code = "import checkers.linearizable as c, native; print(c.ACTIVE, native.in_use())"
    env = {**os.environ, native.DISABLE_ENV: "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False {") and "True" not in out.stdout


def test_no_test_patches_a_compiled_module() -> None:
    """A compiled module calls its own functions directly: a test that patched one would
    run against the unpatched code and assert nothing. Patched modules stay Python."""
    tests = Path(__file__).resolve().parents[1]
    patched = []
    for path in tests.rglob("*.py"):
        text = path.read_text()
        for module in native.COMPILED:
            name = module.rpartition(".")[2]
            forms = (
                rf"setattr\(\s*{name}\s*,",
                rf"[\"']{re.escape(module)}\.",
                rf"^\s*{name}\.\w+\s*=",
            )
            if any(re.search(f, text, re.M) for f in forms):
                patched.append(f"{path.name} patches {module}")
    assert patched == []
