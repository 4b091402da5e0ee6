"""Suite-wide guard: no test reads a path beside the checkout.

A plain clone has nothing beside it, so a test that opens a
sibling of the repository passes on a developer's machine and fails for every
new user. An audit
hook records each such open or directory listing in this process, and the
session fails when any happened. Subprocesses are covered by the static check
in `tests/quality/test_self_contained.py`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
_OUTSIDE: list[str] = []
_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})


def _outside_checkout(raw: object) -> str | None:
    """The absolute path of `raw` when it lies beside (not inside) the checkout."""
    if isinstance(raw, bytes):
        raw = os.fsdecode(raw)
    if not isinstance(raw, str) or not raw:
        return None
    path = os.path.normpath(os.path.join(os.getcwd(), raw))
    parent, root = str(REPO_ROOT.parent), str(REPO_ROOT)
    if path.startswith(parent + os.sep) and not (path == root or path.startswith(root + os.sep)):
        return path
    return None


def _audit(event: str, args: tuple[object, ...]) -> None:
    if event in _EVENTS and args:
        path = _outside_checkout(args[0])
        if path is not None and len(_OUTSIDE) < 20:
            _OUTSIDE.append(f"{event} {path}")


sys.addaudithook(_audit)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _OUTSIDE:
        print("\ntests read paths outside the checkout (a plain clone has none):", file=sys.stderr)
        for line in _OUTSIDE:
            print(f"  {line}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _validate_written_results(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every results.json and junit.xml a test leaves in its tmp_path must match the schemas."""
    tmp = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if tmp is not None:
        from tests.support.artifacts import validate_run_outputs

        validate_run_outputs(tmp)
