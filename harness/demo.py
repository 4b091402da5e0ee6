"""The shopping-cart demo: concurrent blind writers make siblings; a reader reconciles them.

A one-minute tour (`sibyl demo`), separate from `sibyl run`: start a local
5-node cluster, have several writers add items to one cart without reading each
other's writes, read the siblings, reconcile them by union, write the union
back with the merged context, and show that one version remains.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

from rich.console import Console

from harness.cluster import LocalCluster
from node.client import Client

CART = "cart-demo"


def cart_value(put_id: str, items: set[int]) -> bytes:
    """The stored form of a cart version (docs/history.md)."""
    return json.dumps({"put": put_id, "items": sorted(items)}).encode()


def cart_items(siblings: list[bytes]) -> set[int]:
    """The Dynamo reconciliation: the union of every sibling's items."""
    out: set[int] = set()
    for s in siblings:
        out.update(json.loads(s)["items"])
    return out


async def _writer(client: Client, wid: int, items: list[int], context: bytes) -> None:
    mine: set[int] = set()
    for seq, item in enumerate(items):
        mine.add(item)
        # Blind write: the same stale context every time, so writers never see each other.
        await client.put(CART, cart_value(f"w{wid}-{seq}", mine), context)


async def run_demo(dir: Path, nodes: int, writers: int, seed: int, console: Console) -> int:
    """Runs the demo; returns 0 if reconciliation left exactly one version holding every item."""
    rng = random.Random(seed)
    cluster = LocalCluster.create(dir, nodes)
    console.print(f"[bold]seed[/] {seed}   [bold]cluster[/] {nodes} nodes in {dir}")
    cluster.start_all()
    try:
        await cluster.wait_ready()
        clients = [await Client.connect(*cluster.addr(n)) for n in cluster.nodes]
        start = await clients[0].get(CART)
        plan = {w: rng.sample(range(100 * w, 100 * w + 50), 3) for w in range(writers)}
        t0 = time.monotonic()
        await asyncio.gather(
            *(_writer(clients[w % nodes], w, plan[w], start.context) for w in range(writers))
        )
        took = time.monotonic() - t0
        added = sum(map(len, plan.values()))
        console.print(f"{writers} writers added {added} items blind (each reusing the first, "
                      f"empty context) in {took:.2f}s")  # fmt: skip
        got = await clients[1].get(CART)
        console.print(f"read via {got.node}: [bold]{len(got.siblings)} siblings[/]")
        for s in got.siblings:
            console.print(f"  {s.decode()}")
        union = cart_items(got.siblings)
        await clients[2].put(CART, cart_value("reconcile", union), got.context)
        final = await clients[3].get(CART)
        console.print(f"reconciled with the merged context: {len(final.siblings)} version(s): "
                      f"{final.siblings[0].decode() if final.siblings else '-'}")  # fmt: skip
        expected = {i for items in plan.values() for i in items}
        ok = len(final.siblings) == 1 and cart_items(final.siblings) == expected
        console.print("[green]every added item survived[/]" if ok else "[red]items were lost[/]")
        for c in clients:
            await c.close()
        return 0 if ok else 1
    finally:
        cluster.stop_all()
        console.print(f"cluster stopped; node logs in {dir}/<node>/node.log")
