"""Optional mypyc builds of Sibyl's hot modules, used only while they match the sources.

The Python sources stay the source of truth. `make deps` runs `python -m native`,
which compiles `COMPILED` with mypyc into a directory of the virtualenv
(`sys.prefix`), next to one digest of the sources it was built from (every
source of the packages that hold compiled modules). A package that holds
compiled modules calls `activate(__name__, __path__)` first thing in its
`__init__`; that puts the build's copy of the package first on its path only if
the digest still matches the sources. So an edited source (a fix, or a planted
bug) is never shadowed by a stale build: one edit anywhere and every module
runs as Python until the next build. The digest is global because compiled
modules call each other natively: a stale compiled module must not be reachable
from a current one. Without a compiler, or with `SIBYL_NO_MYPYC=1`,
everything runs as pure Python, with the same results, only slower.

Some packages are compiled but used only where a process asks for them
(`OPT_IN`): planted bugs patch `node`'s classes and functions, and a compiled
module ignores such a patch (it calls its own code natively) or refuses it (a
native class takes no new attributes). So `node` runs compiled only in a
process that sets `SIBYL_NATIVE_NODE=1` and imports no planted bug
(`SIBYL_INTERCEPTS` unset): `sibyl sim`'s worker processes without
`--intercept` (harness/sim_batch.py). Everything else (real node processes,
tests, any run with an intercept) runs `node` from its sources. `harness`'s
compiled modules (the simulated clients' loop and the recorder) opt in with the
node, under the same variable: a compiled module reaches another package's
compiled classes directly, whatever Python imported, so a compiled
`harness.sim_clients` beside the node's sources would run (or crash on) the
node's build.

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
    "checkers.linearizable.scheduler",
    "checkers.linearizable.growth",
    "checkers.linearizable.model",
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
    # the simulator's hot path, used only where a process opts in (OPT_IN); not compiled:
    # config and auth (not hot), server, client and __main__ (asyncio), package inits
    "node.antientropy",
    "node.coordinator",
    "node.core",
    "node.delivery",
    "node.dispatch",
    "node.events",
    "node.handoff",
    "node.health",
    "node.inflight",
    "node.membership",
    "node.membership_history",
    "node.merkle",
    "node.messages.answers",
    "node.messages.catalogue",
    "node.messages.client",
    "node.messages.fields",
    "node.messages.peer",
    "node.modes",
    "node.origin",
    "node.outbox",
    "node.ownership",
    "node.placement",
    "node.protocol",
    "node.replica",
    "node.request",
    "node.ring",
    "node.storage",
    "node.versions",
    "node.sim.agenda",
    "node.sim.clients",
    "node.sim.cluster",
    "node.sim.faults",
    "node.sim.lossy",
    "node.sim.network",
    # the simulated clients' workload (also faster in `sibyl run`; tests subclass Cart)
    "workloads.base",
    "workloads.cart",
    # the simulated clients' loop and the recorder; opt in with the node (OPT_IN)
    "harness.history",
    "harness.sim_clients",
)
"""The compiled modules, by dotted name. A module whose functions a test or a planted
bug patches must not be here, unless its package is in `OPT_IN`: a compiled module calls
its own functions directly, so the patch would not take (tests/unit/test_native.py keeps
patched modules out)."""

OPT_IN: Final = {"node": "SIBYL_NATIVE_NODE", "harness": "SIBYL_NATIVE_NODE"}
"""Top-level packages whose compiled modules a process uses only if it sets this variable
to 1 and `INTERCEPTS_ENV` is unset: the ones planted bugs patch, and the ones whose
compiled modules call theirs (one variable: they are compiled together or not at all)."""
INTERCEPTS_ENV: Final = "SIBYL_INTERCEPTS"
"""Set in a process that imports planted bugs (node/__main__.py reads it)."""

ROOT: Final = Path(__file__).resolve().parents[1]
DISABLE_ENV: Final = "SIBYL_NO_MYPYC"
RUNTIME: Final = "runtime"
"""The build's directory that holds mypyc's shared modules (the compiled code of each package),
which the compiled modules import by their top-level names. It alone goes on `sys.path`: on the
path, the build's top would make `node` a namespace package of compiled modules wherever the
sources are not found first (an editable install run from elsewhere)."""


def build_dir() -> Path:
    """Where the build lives: inside the running virtualenv, never in the work tree."""
    return Path(sys.prefix) / "sibyl-mypyc"


def source_path(module: str) -> Path:
    """The source file of a compiled module, in the work tree."""
    return ROOT.joinpath(*module.split(".")).with_suffix(".py")


def digested() -> list[Path]:
    """Every source of every package that has compiled modules, compiled or not: mypyc
    may build in what it knows of a module it does not compile (a Final constant, say)."""
    tops = sorted({module.partition(".")[0] for module in COMPILED})
    return sorted(path for top in tops for path in (ROOT / top).rglob("*.py"))


def source_digest() -> str:
    """A digest of the sources (`digested`), and of the interpreter they were built for."""
    h = hashlib.sha256(sys.version.encode())
    for path in digested():
        h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
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
    if not any(m.rpartition(".")[0] == package for m in COMPILED) or not opted_in(package):
        return False
    if _current is None:
        _current = current()
    if not _current:
        return False
    package_path.insert(0, str(build_dir().joinpath(*package.split("."))))
    runtime = str(build_dir() / RUNTIME)
    if runtime not in sys.path:  # not the build's top: its `node` would shadow the sources'
        sys.path.append(runtime)
    return True


def opted_in(package: str) -> bool:
    """Whether this process may use `package`'s compiled modules (always, unless its
    top-level package is in `OPT_IN`)."""
    env = OPT_IN.get(package.partition(".")[0])
    return env is None or (os.environ.get(env) == "1" and not os.environ.get(INTERCEPTS_ENV))


def in_use(package: str | None = None) -> dict[str, bool]:
    """For each compiled module (of `package` and its subpackages, or all), whether the
    imported one is compiled."""
    found = {}
    for name in COMPILED:
        if package is None or name.startswith(package + "."):
            found[name] = not str(importlib.import_module(name).__file__).endswith(".py")
    return found


def build() -> bool:
    """Compiles `COMPILED` into `build_dir()`; prints one line and returns False on failure."""
    out = build_dir()
    digest = source_digest()  # of the sources compiled: one edited meanwhile retires the build
    shutil.rmtree(out, ignore_errors=True)
    temp = out.with_name(out.name + "-tmp")
    try:
        from mypyc.build import mypycify
        from setuptools import setup

        os.chdir(ROOT)  # module names come from the paths, relative to the root
        groups: dict[str, list[str]] = {}  # one shared module (one C file) per package
        for module in COMPILED:
            path = str(source_path(module).relative_to(ROOT))
            groups.setdefault(module.rpartition(".")[0], []).append(path)
        cores = str(os.cpu_count() or 1)
        setup(
            name="sibyl-mypyc",
            ext_modules=mypycify(
                [path for paths in groups.values() for path in paths],
                opt_level="3",
                target_dir=str(temp / "c"),
                separate=[(paths, None) for paths in groups.values()],
            ),
            # -j: the packages' C files compile on every core (calls between them stay native)
            script_args=["-q", "build_ext", "-b", str(out), "-t", str(temp), "-j", cores],
        )
    except (Exception, SystemExit) as e:  # setuptools reports a compiler failure by exiting
        shutil.rmtree(out, ignore_errors=True)
        why = f"{type(e).__name__}: {e}"[:120]  # a compiler's command line is long
        print(f"mypyc build failed ({why}): Sibyl runs as pure Python", file=sys.stderr)
        return False
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    (out / RUNTIME).mkdir()
    for shared in out.glob("*__mypyc.*"):
        shared.rename(out / RUNTIME / shared.name)
    (out / "DIGEST").write_text(digest + "\n")
    print(f"compiled {len(COMPILED)} modules with mypyc into {out}")
    return True
