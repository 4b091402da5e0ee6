"""Fuzzing a live cluster over TCP: fake peers and clients, with and without the secret.

`fuzz_cluster` writes a set of keys (acknowledged), then sends arbitrary framed messages
(`fuzz.MessageFuzzer`, plus an occasional frame of random bytes) from several concurrent
connections: clients and peers (made-up names and a real one), some proving the cluster
secret and some not. A connection the node closes (a refusal, a bad frame) is opened
again. `violations` then checks the cluster: every node answers, the ring views are the
same, every acknowledged write reads back exactly once, no node counted or logged a
handler bug or an unhandled exception. Shared by tests/integration/test_fuzz_live.py and
benchmarks/fuzz_node.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass

from harness.cluster import LocalCluster, statuses
from node import auth
from node.client import NodeError
from node.messages import AUTH_OK, Auth, Hello, hello
from node.protocol import FrameDecoder, ProtocolError, encode_frame
from tests.support.fuzz import MessageFuzzer, forged_samples

BATCH = 32
"""Messages written per write: enough to keep the node busy, few enough to stay bounded."""
LOG_MARKERS = ("Traceback", "handler bug", "Fatal error", "Exception in callback")


@dataclass(frozen=True)
class Sender:
    """One fuzzing connection's identity."""

    role: str
    name: str
    proven: bool


SENDERS = [
    Sender("client", "fz-client", True),
    Sender("client", "fz-anon", False),
    Sender("node", "fz-peer", True),
    Sender("node", "n2", True),
    Sender("node", "fz-intruder", False),
    Sender("client", "fz-client-2", True),
    Sender("node", "fz-peer-2", True),
    Sender("client", "fz-anon-2", False),
]


async def _open(addr: tuple[str, int], who: Sender, secret: bytes) -> asyncio.StreamWriter:
    """A connection that said hello (and proved the secret if `who.proven`)."""
    reader, writer = await asyncio.open_connection(*addr)
    nonce = auth.new_nonce()
    writer.write(encode_frame(hello(who.role, who.name, nonce)))
    decoder = FrameDecoder()
    theirs = Hello.parse(await _read_one(reader, decoder))
    if who.proven:
        proof = auth.proof(secret, who.role, who.name, nonce, theirs.nonce)
        writer.write(encode_frame(Auth(proof).wire()))
        if (await _read_one(reader, decoder)).get("t") != AUTH_OK["t"]:
            raise ConnectionError(f"{who} was refused")
    asyncio.get_running_loop().create_task(_drain(reader))
    return writer


async def _read_one(reader: asyncio.StreamReader, decoder: FrameDecoder) -> dict:  # type: ignore[type-arg]
    while True:
        data = await asyncio.wait_for(reader.read(65536), 10)
        if not data:
            raise ConnectionError("closed during the handshake")
        msgs = decoder.feed(data)
        if msgs:
            return msgs[0]


async def _drain(reader: asyncio.StreamReader) -> None:
    """Reads and drops the node's answers, so its sends never back up."""
    with contextlib.suppress(OSError):
        while await reader.read(1 << 16):
            pass


async def fuzz_connection(
    addrs: list[tuple[str, int]], who: Sender, secret: bytes, fuzzer: MessageFuzzer, count: int
) -> int:
    """Sends `count` messages as `who`, each connection to a node of `addrs` drawn at random;
    returns how many connections it took.

    A frame the node must refuse (random bytes, a "t" that is not a string) ends its
    batch, and the connection is opened again: frames written behind it would be lost.
    So would frames behind an admin command on an unproven connection; those count as sent.
    """
    sent, opened = 0, 0
    while sent < count:
        writer = await _open(fuzzer.rng.choice(addrs), who, secret)
        opened += 1
        try:
            refused = False
            while sent < count and not refused and not writer.is_closing():
                frames = []
                while len(frames) < BATCH and sent < count and not refused:
                    frame, refused = _frame(fuzzer)
                    frames.append(frame)
                    sent += 1
                writer.write(b"".join(frames))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
    return opened


def _frame(fuzzer: MessageFuzzer) -> tuple[bytes, bool]:
    """A frame, and whether the node will close the connection on it."""
    r = fuzzer.rng
    if r.random() < 0.002:  # random bytes behind a plausible length prefix
        body = r.randbytes(r.randrange(1, 40))
        return len(body).to_bytes(4, "big") + body, True
    try:
        frame = encode_frame(fuzzer.message())
    except (ProtocolError, ValueError, OverflowError, TypeError):
        return encode_frame({"t": "ping", "id": 1}), False
    try:  # a map key that is not a string, or a "t" that is not one: the node closes
        FrameDecoder().feed(frame)
    except ProtocolError:
        return frame, True
    return frame, False


async def write_keys(cluster: LocalCluster, count: int) -> list[str]:
    """Writes `count` keys once each (value v-<key>); returns those acknowledged.

    A put that fails is not retried (a retry may land twice) and its key is left out:
    only acknowledged writes are promised (a cluster just booted may fail its first puts).
    """
    keys = [f"fz-{i}" for i in range(count)]
    names = list(cluster.nodes)
    clients = [await cluster.connect(n) for n in names]
    acked = []
    for i, k in enumerate(keys):
        with contextlib.suppress(NodeError, TimeoutError):
            await clients[i % len(clients)].put(k, b"v-" + k.encode())
            acked.append(k)
    for c in clients:
        await c.close()
    return acked


async def fuzz_cluster(
    cluster: LocalCluster, keys: list[str], messages: int, connections: int, seed: int
) -> float:
    """Fuzzes every node of `cluster` with `messages` messages over `connections` concurrent
    connections; returns the seconds it took."""
    secret = cluster.secret()
    actors = [s["actor"] for s in (await statuses(cluster)).values()]
    names = list(cluster.nodes)
    rng = random.Random(seed)
    jobs = []
    for i in range(connections):
        who = SENDERS[i % len(SENDERS)]
        fuzzer = MessageFuzzer(random.Random(rng.getrandbits(64)), keys, forged_samples(actors),
                               admin=not who.proven)  # fmt: skip
        share = messages // connections + (i < messages % connections)
        addrs = [cluster.addr(n) for n in names]
        jobs.append(fuzz_connection(addrs, who, secret, fuzzer, share))
    start = time.perf_counter()
    await asyncio.gather(*jobs)
    return time.perf_counter() - start


def replica_faults(node: str, key: str, described: dict) -> list[str]:  # type: ignore[type-arg]
    """A replica's object (as `local_get` describes it) with a dot twice or outside its clock."""
    clock = described["clock"]
    dots = [tuple(s["dot"]) for s in described["siblings"]]
    out = [f"{node} holds {key} with a dot twice: {dots}"] if len(set(dots)) != len(dots) else []
    out += [f"{node} holds {key} with {a}:{c} outside its clock {clock}"
            for a, c in dots if clock.get(a, 0) < c]  # fmt: skip
    return out


async def violations(cluster: LocalCluster, keys: list[str], settle_s: float = 3.0) -> list[str]:
    """What is wrong with the cluster after a fuzz (empty: nothing)."""
    await asyncio.sleep(settle_s)  # let gossip, handoff and repairs settle
    out: list[str] = []
    names = list(cluster.nodes)
    try:
        st = await statuses(cluster)
    except (OSError, TimeoutError) as e:
        return [f"a node does not answer: {e}"]
    views = {n: (tuple(s["members"]), tuple(s["ring"])) for n, s in st.items()}
    if len(set(views.values())) != 1:
        out.append(f"ring views differ: { {n: v[0] for n, v in views.items()} }")
    for n, s in st.items():
        if s["counters"].get("handler_errors"):
            out.append(f"{n} counted {s['counters']['handler_errors']} handler bugs")
    clients = [await cluster.connect(n) for n in names]
    for i, k in enumerate(keys):
        got = (await clients[i % len(clients)].get(k)).siblings
        if got.count(b"v-" + k.encode()) != 1:
            out.append(f"{k} read back as {got[:4]!r}")
    for n, c in zip(names, clients):
        for k in keys:
            out += replica_faults(n, k, (await c.local_get(k))["clock"])
    for c in clients:
        await c.close()
    for n in names:
        text = (cluster.node_dir(n) / "node.log").read_text(errors="replace")
        out += [f"{n} logged {m!r}" for m in LOG_MARKERS if m in text]
    return out
