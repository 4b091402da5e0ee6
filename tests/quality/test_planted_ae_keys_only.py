"""Does the anti-entropy test catch a leaf hash that ignores values? A replica misses a
concurrent sibling while it is down; on the correct node anti-entropy brings it over
within the bound, and with tests.intercepts.ae_keys_only it never does, although the
exchanges keep running."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from harness.cluster import LocalCluster
from tests.integration.test_antientropy import (
    BOUND_S,
    SETTINGS,
    counters,
    replicas_hold,
    write_all,
)
from tests.support.cluster import eventually, keys_with_primary, ring_of, running_cluster

REPO = str(Path(__file__).resolve().parents[2])
BUG = "tests.intercepts.ae_keys_only"


async def converges_within(cluster: LocalCluster) -> bool:
    """Diverges n2 from its co-replicas in *values* only; True iff anti-entropy alone
    makes every replica hold both siblings within BOUND_S of n2's restart."""
    ring = await ring_of(cluster)
    keys = keys_with_primary(ring, "n2", 30, "planted")
    await write_all(cluster.addr("n1"), keys, b"first")
    await eventually(lambda: replicas_hold(cluster, ring, keys, [b"first"]), 10)
    cluster.stop("n2")
    await write_all(cluster.addr("n3"), keys, b"second")  # blind: a concurrent sibling
    both = [b"first", b"second"]
    await eventually(lambda: replicas_hold(cluster, ring, keys, both, skip="n2"), 10)
    cluster.start("n2")
    await cluster.wait_ready(["n2"])
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        if await replicas_hold(cluster, ring, keys, both):
            return True
        await asyncio.sleep(0.1)
    exchanges = (await counters(cluster, ["n2"]))["n2"].get("ae_exchanges", 0)
    assert exchanges >= 10, f"only {exchanges} exchanges ran: the bound proves nothing"
    return False


def run(tmp: Path, with_bug: bool) -> bool:
    env = {"PYTHONPATH": REPO, "SIBYL_INTERCEPTS": BUG if with_bug else ""}
    with running_cluster(tmp, 5, env=env, **SETTINGS) as cluster:
        return asyncio.run(converges_within(cluster))


@pytest.mark.parametrize("with_bug", [False, True], ids=["correct", "ae_keys_only"])
def test_replicas_converge_iff_the_leaf_hash_covers_the_values(
    tmp_path: Path, with_bug: bool
) -> None:
    assert run(tmp_path, with_bug) is not with_bug
