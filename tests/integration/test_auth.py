"""The cluster secret on real node processes: peers and admin commands must prove it in the
hello (HMAC challenge-response), data clients too when the config says so (issue 16)."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
from pathlib import Path

import pytest

from harness.lab import Lab
from node import auth
from node.client import SECRET_ENV, Client, ConnectionLost, NodeError
from node.messages import Sync, hello
from node.protocol import FrameDecoder, Message, encode_frame
from tests.support.cluster import running_cluster


def raw_exchange(
    addr: tuple[str, int], frames: list[Message], timeout_s: float = 5.0
) -> list[Message]:
    """Sends `frames` on a fresh connection; returns every frame read until the node closes."""
    out: list[Message] = []
    decoder = FrameDecoder()
    with socket.create_connection(addr, timeout=timeout_s) as s:
        s.sendall(b"".join(encode_frame(f) for f in frames))
        while data := s.recv(65536):
            out += decoder.feed(data)
    return out


def test_peers_prove_the_secret_and_strangers_get_one_refusal(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 3) as cluster:
        secret_file = cluster.secret_file
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
        secret = cluster.secret()

        async def go() -> None:
            c = await Client.connect(*cluster.addr("n1"))  # data: no secret needed here
            await c.put("k", b"v")  # W=2: a peer, over an authenticated link, acknowledged it
            assert (await c.get("k")).siblings == [b"v"]
            with pytest.raises(ConnectionLost, match="unauthorized.*'leave' needs the cluster"):
                await c.leave("n3")
            await c.close()
            with pytest.raises(NodeError, match="wrong cluster secret"):
                await Client.connect(*cluster.addr("n2"), secret=b"x" * 64)
            admin = await Client.connect(*cluster.addr("n2"), secret=secret)
            with pytest.raises(NodeError, match="fewer than N=3"):  # proven: only N refuses
                await admin.leave("n3")
            await admin.close()

        asyncio.run(go())

        # A fake peer without the proof: one refusal, then the connection is closed unread.
        sync = Sync(0, "planted", b"\x92\x90\x90").wire()
        got = raw_exchange(cluster.addr("n1"), [hello("node", "n2", auth.new_nonce()), sync])
        assert [m["t"] for m in got] == ["hello", "error"], got
        assert got[1]["code"] == "unauthorized" and "peer traffic" in got[1]["message"]
        # The secret never crossed the wire: the node's frames do not contain it.
        assert all(secret not in encode_frame(m) for m in got)

        async def planted_absent() -> None:
            c = await Client.connect(*cluster.addr("n1"))
            assert (await c.local_get("planted"))["siblings"] == []
            await c.close()

        asyncio.run(planted_absent())


def test_data_clients_must_prove_the_secret_when_the_config_says_so(tmp_path: Path) -> None:
    with running_cluster(tmp_path, 3, require_client_auth=True) as cluster:

        async def go() -> None:
            c = await Client.connect(*cluster.addr("n1"))
            with pytest.raises(ConnectionLost, match="unauthorized.*every request"):
                await c.get("k")
            await c.close()
            c = await Client.connect(*cluster.addr("n1"), secret=cluster.secret())
            await c.put("k", b"v")
            assert (await c.get("k")).siblings == [b"v"]
            await c.close()

        asyncio.run(go())


def test_the_lab_requires_the_secret_of_every_client(tmp_path: Path) -> None:
    async def go() -> list[Message]:
        lab = await Lab.start(tmp_path / "lab", 3, {}, [], seed=1)
        try:
            c = await Client.connect(*lab.cluster.addr("n1"))  # proves the lab's secret
            await c.put("k", b"v")
            await c.close()
            get = {"t": "get", "id": 1, "key": "k"}
            hello_ = hello("client", "stranger", auth.new_nonce())
            return await asyncio.to_thread(raw_exchange, lab.cluster.addr("n1"), [hello_, get])
        finally:
            await lab.stop()

    got = asyncio.run(go())
    assert [m["t"] for m in got] == ["hello", "error"], got
    assert got[1]["code"] == "unauthorized" and "every request" in got[1]["message"]
    assert SECRET_ENV not in os.environ  # the lab took its secret away with it
