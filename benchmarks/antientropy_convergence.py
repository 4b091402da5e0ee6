"""Merkle anti-entropy: time to converge after a heal, against the divergence and the interval.

For each (divergent keys K, anti-entropy interval I): a local 5-node cluster
(N=3) with read repair off and hinted handoff effectively off (first round
after ten minutes) loses n2 (stopped); K keys that n2 replicates are written
through the other nodes (100-byte values, many concurrent puts over several
connections), so n2 misses exactly those K keys. Then n2 restarts, and the
clock runs from the moment it answers a ping until anti-entropy alone has
repaired all K keys on it and every partition's replicas report equal Merkle
roots. Reported per run: convergence time, repair rate, objects sent per
repaired key (1.0 = nothing sent twice), and bytes per repaired key, both of
objects alone and of every anti-entropy message (roots, bucket hashes,
digests, objects; msgpack bodies, counted by the nodes).

    .venv/bin/python benchmarks/antientropy_convergence.py [--keys 1000,10000]
        [--intervals-ms 200,1000] [--timeout-s 600]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.cluster import LocalCluster, statuses  # noqa: E402
from node.client import Client  # noqa: E402
from node.ring import Member, Ring  # noqa: E402

VALUE = b"v" * 100
DOWN = "n2"
CONNECTIONS = 8
IN_FLIGHT = 64
"""Puts in flight per connection while writing the divergence."""


@dataclass
class Result:
    keys: int
    interval_ms: int
    write_rate: float
    converge_s: float
    repaired: int
    sent: int
    object_bytes: int
    ae_bytes: int
    exchanges: int


def divergent_keys(ring: Ring, count: int) -> list[str]:
    """`count` keys that DOWN replicates."""
    out: list[str] = []
    i = 0
    while len(out) < count:
        key = f"ae-{i}"
        if DOWN in ring.preference_list(key, 3):
            out.append(key)
        i += 1
    return out


async def write_fast(cluster: LocalCluster, names: list[str], keys: list[str]) -> float:
    """Blind puts of every key over CONNECTIONS connections, IN_FLIGHT each; returns puts/s."""
    conns = [await Client.connect(*cluster.addr(names[i % len(names)])) for i in range(CONNECTIONS)]
    start = time.perf_counter()

    async def lane(c: Client, lane_keys: list[str]) -> None:
        sem = asyncio.Semaphore(IN_FLIGHT)

        async def one(k: str) -> None:
            async with sem:
                await c.put(k, VALUE, timeout_s=60)

        await asyncio.gather(*(one(k) for k in lane_keys))

    await asyncio.gather(*(lane(c, keys[i::CONNECTIONS]) for i, c in enumerate(conns)))
    elapsed = time.perf_counter() - start
    for c in conns:
        await c.close()
    return len(keys) / elapsed


def roots_agree(st: dict[str, dict], ring: Ring) -> bool:
    """Every partition's replicas among the nodes in `st` report one root."""
    for p in range(ring.partitions):
        roots = {st[n]["merkle_roots"][str(p)] for n in ring.walk(p)[:3] if n in st}
        if len(roots) > 1:
            return False
    return True


async def wait_for(check, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout_s}s")
        await asyncio.sleep(0.1)


def total(st: dict[str, dict], name: str) -> int:
    return sum(s["counters"].get(name, 0) for s in st.values())


async def measure(cluster: LocalCluster, count: int, interval_ms: int, timeout_s: float) -> Result:
    names = list(cluster.nodes)
    others = [n for n in names if n != DOWN]
    first = (await statuses(cluster, ["n1"]))["n1"]
    ring = Ring([Member(m) for m in first["members"]], len(first["ring"]))
    keys = divergent_keys(ring, count)
    cluster.stop(DOWN)
    rate = await write_fast(cluster, others, keys)

    async def settled() -> bool:
        return roots_agree(await statuses(cluster, others), ring)

    await wait_for(settled, timeout_s, "agreement among the live replicas")
    before = await statuses(cluster, others)
    cluster.start(DOWN)
    await cluster.wait_ready([DOWN])
    start = time.monotonic()

    async def converged() -> bool:
        st = await statuses(cluster, [DOWN])
        return st[DOWN]["counters"].get("ae_keys_repaired", 0) >= count

    await wait_for(converged, timeout_s, f"{count} keys repaired on {DOWN}")

    async def agreed() -> bool:
        return roots_agree(await statuses(cluster, names), ring)

    await wait_for(agreed, timeout_s, "equal roots everywhere")
    elapsed = time.monotonic() - start
    after = await statuses(cluster, names)

    def grew(name: str) -> int:
        return total(after, name) - total(before, name)

    return Result(count, interval_ms, rate, elapsed,
                  after[DOWN]["counters"].get("ae_keys_repaired", 0), grew("ae_keys_sent"),
                  grew("ae_object_bytes_sent"), grew("ae_bytes_sent"),
                  grew("ae_exchanges"))  # fmt: skip


def run_one(count: int, interval_ms: int, timeout_s: float) -> Result:
    settings = {"read_repair": False, "handoff_interval_ms": 600_000,
                "antientropy_interval_ms": interval_ms, "probe_interval_ms": 100}  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        cluster = LocalCluster.create(d, 5, **settings)
        cluster.start_all()
        try:
            asyncio.run(cluster.wait_ready())
            return asyncio.run(measure(cluster, count, interval_ms, timeout_s))
        finally:
            cluster.stop_all()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--keys", default="1000,10000", help="divergent key counts, comma-separated")
    ap.add_argument("--intervals-ms", default="200,1000", help="anti-entropy intervals to try")
    ap.add_argument("--timeout-s", type=float, default=600.0, help="give up on one run after")
    args = ap.parse_args()
    counts = [int(x) for x in args.keys.split(",")]
    intervals = [int(x) for x in args.intervals_ms.split(",")]
    print("5 nodes, N=3; n2 stopped, K keys it replicates written (100 B values), n2 restarted;")
    print("read repair off, handoff off: anti-entropy alone repairs. Time runs from n2's restart.")
    header = (f"{'keys':>7} {'interval':>9} {'write/s':>8} {'converge':>9} {'keys/s':>8} "
              f"{'sent/key':>9} {'obj B/key':>10} {'AE B/key':>9} {'exchanges':>10}")  # fmt: skip
    print(header)
    for count in counts:
        for interval in intervals:
            r = run_one(count, interval, args.timeout_s)
            print(f"{r.keys:>7} {r.interval_ms:>7}ms {r.write_rate:>8,.0f} {r.converge_s:>8.2f}s "
                  f"{r.repaired / r.converge_s:>8,.0f} {r.sent / r.repaired:>9.2f} "
                  f"{r.object_bytes / r.repaired:>10.0f} {r.ae_bytes / r.repaired:>9.0f} "
                  f"{r.exchanges:>10}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
