"""A real 5-node cluster of OS processes over TCP."""

from __future__ import annotations

import asyncio
import socket
import struct
from pathlib import Path

import pytest

from harness.cluster import ClusterError, LocalCluster
from node.client import Client, NodeError
from node.messages import hello
from node.protocol import MAX_KEY_BYTES, MAX_VALUE_BYTES, FrameDecoder, encode_frame
from tests.support.cluster import running_cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> LocalCluster:
    with running_cluster(tmp_path_factory.mktemp("c5")) as c:
        yield c


async def connect(cluster: LocalCluster, name: str = "n1") -> Client:
    return await Client.connect(*cluster.addr(name))


def test_concurrent_puts_with_one_context_come_back_as_exactly_those_siblings(
    cluster: LocalCluster,
) -> None:
    async def go() -> None:
        clients = [await connect(cluster, f"n{i}") for i in range(1, 6)]
        base = await clients[0].get("cart-a")
        await clients[0].put("cart-a", b"seed", base.context)
        seen = await clients[0].get("cart-a")
        values = [f"item-{i}".encode() for i in range(5)]
        await asyncio.gather(*(c.put("cart-a", v, seen.context) for c, v in zip(clients, values)))
        after = await clients[2].get("cart-a")
        assert sorted(after.siblings) == sorted(values)
        # A put with the merged context replaces them all.
        await clients[3].put("cart-a", b"reconciled", after.context)
        final = await clients[4].get("cart-a")
        assert final.siblings == [b"reconciled"]
        for c in clients:
            await c.close()

    asyncio.run(go())


def test_same_coordinator_concurrent_puts_do_not_collapse(cluster: LocalCluster) -> None:
    async def go() -> None:
        c = await connect(cluster)
        await asyncio.gather(*(c.put("same-node", f"v{i}".encode()) for i in range(4)))
        r = await c.get("same-node")
        assert sorted(r.siblings) == [b"v0", b"v1", b"v2", b"v3"]
        await c.close()

    asyncio.run(go())


def test_oversized_key_and_value_are_refused_clearly(cluster: LocalCluster) -> None:
    async def go() -> None:
        c = await connect(cluster)
        with pytest.raises(NodeError) as e:
            await c.put("k" * (MAX_KEY_BYTES + 1), b"v")
        assert e.value.code == "too_large" and "key" in e.value.message
        with pytest.raises(NodeError) as e:
            await c.put("k", b"x" * (MAX_VALUE_BYTES + 1))
        assert e.value.code == "too_large" and "1 MiB" in e.value.message
        with pytest.raises(NodeError) as e:
            await c.put("k", b"v", b"\xc1garbage")
        assert e.value.code == "bad_request" and "context" in e.value.message
        await c.put("k", b"still serving")
        assert (await c.get("k")).siblings == [b"still serving"]
        await c.close()

    asyncio.run(go())


def _raw_conn(cluster: LocalCluster, name: str) -> socket.socket:
    s = socket.create_connection(cluster.addr(name), timeout=5)
    s.sendall(encode_frame(hello("client", "raw")))
    return s


def _read_frames(s: socket.socket) -> list[dict]:
    d, out = FrameDecoder(), []
    while True:
        data = s.recv(65536)
        if not data:
            return out
        out += d.feed(data)


def test_malformed_frames_do_not_disturb_a_concurrent_client(cluster: LocalCluster) -> None:
    async def go() -> None:
        c = await connect(cluster, "n2")
        stop = asyncio.Event()
        done = 0

        async def steady() -> None:
            nonlocal done
            while not stop.is_set():
                await c.put(f"steady-{done}", b"v")
                assert (await c.get(f"steady-{done}")).siblings == [b"v"]
                done += 1

        task = asyncio.create_task(steady())
        bad_inputs = [
            b"\x00\x00\x00\x03\xc1\xc1\xc1",  # not msgpack
            struct.pack(">I", 1 << 30),  # oversized length
            encode_frame({"no": "type"}),
        ]
        for bad in bad_inputs:
            s = await asyncio.to_thread(_raw_conn, cluster, "n2")
            s.sendall(bad)
            frames = await asyncio.to_thread(_read_frames, s)  # node closes after replying
            s.close()
            assert frames[-1]["t"] == "error" and frames[-1]["code"] == "protocol"
        # A garbage greeting with no hello at all:
        s = socket.create_connection(cluster.addr("n2"), timeout=5)
        s.sendall(encode_frame({"t": "get", "key": "x"}))
        frames = await asyncio.to_thread(_read_frames, s)
        s.close()
        assert "hello" in frames[-1]["message"]
        await asyncio.sleep(0.2)
        stop.set()
        await task
        assert done > 0
        await c.close()

    asyncio.run(go())


def test_with_one_node_killed_puts_and_gets_still_succeed(tmp_path: Path) -> None:
    with running_cluster(tmp_path) as cl:

        async def go() -> None:
            c = await connect(cl, "n1")
            cl.kill("n3")
            for i in range(40):
                await c.put(f"after-kill-{i}", f"v{i}".encode())
                r = await c.get(f"after-kill-{i}")
                assert r.siblings == [f"v{i}".encode()]
            await c.close()

        asyncio.run(go())


def test_siblings_past_the_object_limit_are_refused_and_the_node_keeps_serving(
    cluster: LocalCluster,
) -> None:
    async def go() -> None:
        c = await connect(cluster)
        big = b"x" * (MAX_VALUE_BYTES - 1024)
        with pytest.raises(NodeError) as e:
            for _ in range(20):  # blind puts: every one adds a ~1 MiB sibling
                await c.put("huge", big)
        assert e.value.code == "too_large" and "siblings" in e.value.message
        got = await c.get("huge")
        await c.put("huge", b"reconciled", got.context)
        assert (await c.get("huge")).siblings == [b"reconciled"]
        await c.close()

    asyncio.run(go())


def test_a_node_that_exits_during_start_up_is_noticed_with_its_log(tmp_path: Path) -> None:
    cluster = LocalCluster.create(tmp_path / "c", 2)
    cluster.env = {"SIBYL_INTERCEPTS": "no.such.intercept"}  # every node dies at import
    cluster.start_all()
    try:
        with pytest.raises(ClusterError) as e:
            asyncio.run(cluster.wait_ready(timeout_s=60.0))
    finally:
        cluster.stop_all()
    # Noticed as an exit (not as a 60 s time-out), with the node's own last words.
    assert "exited during start-up" in str(e.value)
    assert "cannot import 'no.such.intercept'" in str(e.value)
