"""Optional mypyc builds of the checker's hot modules, used only while they match the sources.

The Python sources stay the source of truth. `make deps` runs this module
(`python -m checkers.linearizable.native`), which compiles `COMPILED` with
mypyc into a directory of the virtualenv (`sys.prefix`), next to a digest of
the sources it compiled. On import, the package puts that directory first on
its `__path__` only if the digest still matches the sources, so an edited
source is never shadowed by a stale build: it runs as Python until the next
build. Without a compiler (or with `SIBYL_NO_MYPYC=1` set) everything runs
as pure Python, with the same verdicts, about a quarter slower.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import MutableSequence
from pathlib import Path
from typing import Final

COMPILED: Final = ("search", "replay", "models", "api", "components")
"""The modules compiled: the search and the path from `check` to it. Not `inferred`:
its tests patch its functions to plant wrong inferences, and a compiled module calls
its own functions directly, so a patch would not take (the test would then check
nothing); tests/unit/test_linearizable_native.py keeps patched modules out."""

PACKAGE_DIR: Final = Path(__file__).resolve().parent
DISABLE_ENV: Final = "SIBYL_NO_MYPYC"


def build_dir() -> Path:
    """Where the build lives: inside the running virtualenv, never in the work tree."""
    return Path(sys.prefix) / "sibyl-mypyc"


def source_digest() -> str:
    """A digest of the compiled modules' sources, and of the interpreter they were built for."""
    h = hashlib.sha256(sys.version.encode())
    for name in COMPILED:
        h.update((PACKAGE_DIR / f"{name}.py").read_bytes())
    return h.hexdigest()


def activate(package_path: MutableSequence[str]) -> bool:
    """Puts a current build first on the package's `package_path`; True if it did."""
    stamp = build_dir() / "DIGEST"
    if os.environ.get(DISABLE_ENV) or not stamp.is_file():
        return False
    if stamp.read_text().strip() != source_digest():
        return False
    package_path.insert(0, str(build_dir() / "checkers" / "linearizable"))
    sys.path.append(str(build_dir()))  # mypyc's shared runtime module lives at its top
    return True


def in_use() -> dict[str, bool]:
    """For each module of `COMPILED`, whether the imported one is compiled."""
    import importlib

    found = {}
    for name in COMPILED:
        module = importlib.import_module(f"checkers.linearizable.{name}")
        found[name] = not str(module.__file__).endswith(".py")
    return found


def build() -> bool:
    """Compiles `COMPILED` into `build_dir()`; prints one line and returns False on failure."""
    out = build_dir()
    shutil.rmtree(out, ignore_errors=True)
    temp = out.with_name(out.name + "-tmp")
    try:
        from mypyc.build import mypycify
        from setuptools import setup

        os.chdir(PACKAGE_DIR.parents[1])  # module names come from the paths, relative to the root
        sources = [f"checkers/linearizable/{name}.py" for name in COMPILED]
        setup(
            name="sibyl-mypyc",
            ext_modules=mypycify(sources, opt_level="3", target_dir=str(temp / "c")),
            script_args=["-q", "build_ext", "--build-lib", str(out), "--build-temp", str(temp)],
        )
    except (Exception, SystemExit) as e:  # setuptools reports a compiler failure by exiting
        shutil.rmtree(out, ignore_errors=True)
        why = f"{type(e).__name__}: {e}"[:120]  # a compiler's command line is long
        print(f"mypyc build failed ({why}): the checker runs as pure Python", file=sys.stderr)
        return False
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    (out / "DIGEST").write_text(source_digest() + "\n")
    print(f"compiled {', '.join(COMPILED)} with mypyc into {out}")
    return True


if __name__ == "__main__":
    build()  # a failed build is not an error: the pure-Python modules work
else:  # imported first by the package's __init__, before any compiled module
    ACTIVE: Final = activate(sys.modules["checkers.linearizable"].__path__)
    """True when the compiled modules are in use."""
