"""Session fixtures shared by integration tests."""

from __future__ import annotations

import pytest

from tests.support.stored_runs import StoredRuns, make_runs


@pytest.fixture(scope="session")
def stored_runs(tmp_path_factory: pytest.TempPathFactory) -> StoredRuns:
    """Five real short runs in one store (see tests/support/stored_runs.py)."""
    return make_runs(tmp_path_factory.mktemp("stored-runs"))
