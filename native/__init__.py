"""Optional mypyc builds of Sibyl's hot modules, used only while they match the sources.

The Python sources stay the source of truth. `make deps` runs `python -m native`,
which compiles `COMPILED` with mypyc into a directory of the virtualenv
(`sys.prefix`), next to one digest of all the sources it compiled. A package
that holds compiled modules calls `activate(__name__, __path__)` first thing in
its `__init__`; that puts the build's copy of the package first on its path only
if the digest still matches every compiled source. So an edited source (a fix,
or a planted bug) is never shadowed by a stale build: one edit anywhere and
every module runs as Python until the next build. The digest is global because
compiled modules call each other natively: a stale compiled module must not be
reachable from a current one. Without a compiler, or with `SIBYL_NO_MYPYC=1`,
everything runs as pure Python, with the same results, only slower.

This package imports nothing of Sibyl's, so `node` and `checkers` can both use it.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import sys
from collections.abc import MutableSequence
from pathlib import Path
from typing import Final

COMPILED: Final = (
    "checkers.linearizable.search",
    "checkers.linearizable.replay",
    "checkers.linearizable.models",
    "checkers.linearizable.api",
    "checkers.linearizable.components",
    "checkers.history",
    "checkers.budget",
    "checkers.cart_history",
    "checkers.version_graph",
    "checkers.resurrection",
    "checkers.lost_adds",
    "checkers.causality",
    "checkers.convergence",
    "checkers.staleness",
)
"""The compiled modules, by dotted name. A module whose functions a test or a planted
bug patches must not be here: a compiled module calls its own functions directly, so
the patch would not take (tests/unit/test_native.py keeps patched modules out)."""

ROOT: Final = Path(__file__).resolve().parents[1]
DISABLE_ENV: Final = "SIBYL_NO_MYPYC"


def build_dir() -> Path:
    """Where the build lives: inside the running virtualenv, never in the work tree."""
    return Path(sys.prefix) / "sibyl-mypyc"


def source_path(module: str) -> Path:
    """The source file of a compiled module, in the work tree."""
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def source_digest() -> str:
    """A digest of every compiled module's source, and of the interpreter they were built for."""
    h = hashlib.sha256(sys.version.encode())
    for module in COMPILED:
        h.update(module.encode() + b"\0" + source_path(module).read_bytes())
    return h.hexdigest()


def current() -> bool:
    """True if a build exists, matches the sources, and is not disabled by `DISABLE_ENV`."""
    stamp = build_dir() / "DIGEST"
    if os.environ.get(DISABLE_ENV) or not stamp.is_file():
        return False
    return stamp.read_text().strip() == source_digest()


_current: bool | None = None  # checked once per process: hashing the sources costs a little


def activate(package: str, package_path: MutableSequence[str]) -> bool:
    """Puts a current build of `package` first on its `package_path`; True if it did.

    Call it from the package's `__init__`, before it imports any of its modules."""
    global _current
    if not any(m.rpartition(".")[0] == package for m in COMPILED):
        return False
    if _current is None:
        _current = current()
    if not _current:
        return False
    package_path.insert(0, str(build_dir().joinpath(*package.split("."))))
    if str(build_dir()) not in sys.path:
        sys.path.append(str(build_dir()))  # mypyc's shared runtime module lives at its top
    return True


def in_use(package: str | None = None) -> dict[str, bool]:
    """For each compiled module (of `package`, or all), whether the imported one is compiled."""
    found = {}
    for name in COMPILED:
        if package is None or name.rpartition(".")[0] == package:
            found[name] = not str(importlib.import_module(name).__file__).endswith(".py")
    return found


def build() -> bool:
    """Compiles `COMPILED` into `build_dir()`; prints one line and returns False on failure."""
    out = build_dir()
    shutil.rmtree(out, ignore_errors=True)
    temp = out.with_name(out.name + "-tmp")
    try:
        from mypyc.build import mypycify
        from setuptools import setup

        os.chdir(ROOT)  # module names come from the paths, relative to the root
        sources = [str(source_path(m).relative_to(ROOT)) for m in COMPILED]
        setup(
            name="sibyl-mypyc",
            ext_modules=mypycify(sources, opt_level="3", target_dir=str(temp / "c")),
            script_args=["-q", "build_ext", "--build-lib", str(out), "--build-temp", str(temp)],
        )
    except (Exception, SystemExit) as e:  # setuptools reports a compiler failure by exiting
        shutil.rmtree(out, ignore_errors=True)
        why = f"{type(e).__name__}: {e}"[:120]  # a compiler's command line is long
        print(f"mypyc build failed ({why}): Sibyl runs as pure Python", file=sys.stderr)
        return False
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    (out / "DIGEST").write_text(source_digest() + "\n")
    print(f"compiled {len(COMPILED)} modules with mypyc into {out}")
    return True
