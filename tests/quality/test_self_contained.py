"""The repository stands on its own: nothing in it reads a folder beside it.

`git clone … && make test` must pass with nothing beside the checkout. The
runtime guard in `tests/conftest.py` catches reads from this process; this test
catches code that would do it in a subprocess or a benchmark.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# A relative path up and into the shared folder, `parent / "shared"`, or its corpora.
SHARED = "sha" + "red"
PATTERN = re.compile(rf"\.\./{SHARED}|parent\s*/\s*[\"']{SHARED}[\"']|{SHARED}/corpora")


def tracked_files() -> list[Path]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=False)
    if out.returncode != 0:
        pytest.fail(f"git ls-files failed in {REPO_ROOT}: {out.stderr.decode(errors='replace')}")
    return [REPO_ROOT / p for p in out.stdout.decode().split("\0") if p]


def test_no_tracked_file_reads_beside_the_checkout() -> None:
    offenders = []
    for path in tracked_files():
        if path.suffix in {".md", ".tsv", ".edn", ".log", ".txt"} or not path.is_file():
            continue
        if path == Path(__file__).resolve() or path.name == "conftest.py":
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if PATTERN.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}")
    assert not offenders, "files that read beside the checkout:\n" + "\n".join(offenders)


def test_corpora_ship_with_their_licences() -> None:
    for corpus in ("porcupine", "knossos"):
        root = REPO_ROOT / "tests" / "corpora" / corpus
        for name in ("LICENSE", "MANIFEST.tsv", "README.md"):
            assert (root / name).is_file(), f"tests/corpora/{corpus}/{name} is missing"


def test_the_guard_sees_a_read_beside_the_checkout(tmp_path: Path) -> None:
    from tests import conftest

    beside = REPO_ROOT.parent / SHARED / "x"
    assert conftest._outside_checkout(str(beside)) == str(beside)
    assert conftest._outside_checkout(str(REPO_ROOT / "tests")) is None
    assert conftest._outside_checkout(str(tmp_path)) is None
