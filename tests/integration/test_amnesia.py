"""A node whose data directory is wiped never reissues a dot (no acknowledged write lost)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.cluster import running_cluster
from tests.support.scenarios import amnesia


def test_wiped_node_writes_alongside_its_old_writes(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 5, antientropy_interval_ms=0) as cluster:
        assert asyncio.run(amnesia(cluster)) == []
