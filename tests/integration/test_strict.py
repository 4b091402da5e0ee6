"""Strict quorum mode: a single-key register stays linearizable while a replica crashes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from checkers.linearizable import CheckResult, check_operations, make_model
from tests.support.cluster import ring_of, running_cluster
from tests.support.register import register_run

EXPECTED = {"strict": CheckResult.OK, "sloppy": CheckResult.ILLEGAL}


@pytest.mark.parametrize("mode", ["strict", "sloppy"])
def test_register_across_a_kill_and_restart(tmp_path: Path, mode: str) -> None:
    """Strict mode must be linearizable; sloppy mode (the contrast) must be caught."""
    with running_cluster(tmp_path, 5, quorum=mode, antientropy_interval_ms=0) as cluster:

        async def go() -> None:
            ring = await ring_of(cluster)
            victim = ring.preference_list("reg", 3)[1]

            async def crash_and_restart() -> None:
                await asyncio.sleep(1.0)
                cluster.kill(victim)
                await asyncio.sleep(1.5)
                cluster.start(victim)
                await cluster.wait_ready([victim])

            history = await register_run(cluster, "reg", 5.0, seed=7, nemesis=crash_and_restart)
            oks = [op for op in history if op.input[0] == "write" and op.output is None]
            reads = [op for op in history if op.input[0] == "read"]
            assert len(oks) > 20 and len(reads) > 20, (len(oks), len(reads))
            verdict = check_operations(make_model("cas-register", None), history, timeout=60)
            assert verdict is EXPECTED[mode]

        asyncio.run(go())
