"""The Python client: `get(key) -> (siblings, context)`, `put(key, value, context)`, debug calls.

One `Client` holds one connection to one node and may have many requests in
flight (replies are matched by request id). Every call has a timeout; a
timed-out put is indeterminate (it may have landed). The context is opaque
bytes: pass back what a get returned to supersede the siblings it saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from typing import Any

from node import auth
from node.messages import (
    AUTH_OK,
    MAX_PREFERENCE_KEYS,
    A,
    Auth,
    ClientReq,
    ErrorReply,
    Get,
    GetOk,
    Hello,
    Join,
    Leave,
    LocalGet,
    LocalGetOk,
    Members,
    MembersOk,
    Ping,
    Pong,
    PreferenceLists,
    PreferenceListsOk,
    Put,
    PutOk,
    Status,
    StatusOk,
    decode_answer,
    hello,
)
from node.protocol import FrameDecoder, Message, ProtocolError, encode_frame

DEFAULT_TIMEOUT_S = 5.0
SECRET_ENV = "SIBYL_SECRET_FILE"
"""The environment variable naming the cluster secret file a client proves by default."""


class NodeError(Exception):
    """The node answered with an error: `code` (e.g. unavailable, too_large) and a message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class ConnectionLost(ConnectionError):
    """The connection closed before the reply arrived (the request may have taken effect)."""


@dataclass(frozen=True)
class GetResult:
    """What a get returns: the sibling values and the causal context covering them."""

    siblings: list[bytes]
    context: bytes
    node: str


class Client:
    """An asyncio client of one node."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._pending: dict[int, asyncio.Future[Message]] = {}
        self._next = 0
        self._task: asyncio.Task[None] | None = None
        self.node_name = ""
        self.timeout_s = DEFAULT_TIMEOUT_S
        self.refusal = ""
        """The node's reason, if it refused this connection and closed it."""

    @classmethod
    async def connect(
        cls,
        host: str,
        port: int,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        name: str = "client",
        secret: bytes | None = None,
    ) -> Client:
        """Connects and handshakes, proving `secret` (the cluster secret, node/auth.py) if given;
        raises ConnectionError naming the address on failure (NodeError if the node refuses
        the secret). Without `secret`, `SIBYL_SECRET_FILE` names the file to read it from."""
        if secret is None and os.environ.get(SECRET_ENV):
            secret = auth.read_secret(os.environ[SECRET_ENV])
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
        except (OSError, TimeoutError) as e:
            raise ConnectionError(f"cannot reach node at {host}:{port}: {e or 'timed out'}") from e
        self = cls(reader, writer)
        self.timeout_s = timeout_s
        nonce = auth.new_nonce()
        writer.write(encode_frame(hello("client", name, nonce)))
        decoder = FrameDecoder()
        try:
            theirs = Hello.parse(await asyncio.wait_for(self._read_one(decoder), timeout_s))
            self.node_name = theirs.name
            if secret is not None:
                proof = auth.proof(secret, "client", name, nonce, theirs.nonce)
                writer.write(encode_frame(Auth(proof).wire()))
                answer = await asyncio.wait_for(self._read_one(decoder), timeout_s)
                if answer.get("t") != AUTH_OK["t"]:
                    raise NodeError(str(answer.get("code")), str(answer.get("message")))
        except NodeError:
            writer.close()
            raise
        except (ProtocolError, TimeoutError, ConnectionLost) as e:
            writer.close()
            raise ConnectionError(f"node at {host}:{port} did not handshake: {e}") from e
        self._task = asyncio.get_running_loop().create_task(self._read_loop(decoder))
        return self

    async def _read_one(self, decoder: FrameDecoder) -> Message:
        while True:
            data = await self._reader.read(65536)
            if not data:
                raise ConnectionLost("connection closed")
            msgs = decoder.feed(data)
            if msgs:
                return msgs[0]

    async def _read_loop(self, decoder: FrameDecoder) -> None:
        try:
            while True:
                data = await self._reader.read(1 << 20)
                if not data:
                    break
                for msg in decoder.feed(data):
                    if msg.get("t") == "error" and msg.get("id") is None:
                        self.refusal = f"{msg.get('code')}: {msg.get('message')}"
                    fut = self._pending.pop(msg.get("id", -1), None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
        except (ProtocolError, OSError):
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    why = f" ({self.refusal})" if self.refusal else ""
                    fut.set_exception(ConnectionLost(f"connection to {self.node_name} lost{why}"))
            self._pending.clear()

    async def call(self, msg: ClientReq, expect: type[A], timeout_s: float | None = None) -> A:
        """Sends one request; returns its answer or raises NodeError / TimeoutError
        (ProtocolError for an answer that is not what `msg` expects)."""
        self._next += 1
        rid = self._next
        fut: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        if self._task is None or self._task.done():
            raise ConnectionLost(f"connection to {self.node_name} is closed")
        wire = msg.wire()
        wire["id"] = rid
        self._writer.write(encode_frame(wire))
        try:
            reply = await asyncio.wait_for(fut, timeout_s or self.timeout_s)
        finally:
            self._pending.pop(rid, None)
        answer = decode_answer(reply, expect)
        if isinstance(answer, ErrorReply):
            raise NodeError(answer.code, answer.message)
        return answer

    async def get(self, key: str, timeout_s: float | None = None) -> GetResult:
        """Reads `key`: all sibling values, and the context to write back with."""
        r = await self.call(Get(key), GetOk, timeout_s)
        return GetResult(list(r.siblings), r.context, r.node)

    async def put(
        self, key: str, value: bytes, context: bytes = b"", timeout_s: float | None = None
    ) -> None:
        """Writes `value`, superseding the siblings `context` covers; returns once W acked."""
        await self.call(Put(key, value, context), PutOk, timeout_s)

    async def local_get(self, key: str) -> dict[str, Any]:
        """Debug: this node's own replica of `key`, without coordination or repair."""
        return (await self.call(LocalGet(key), LocalGetOk)).wire()

    async def status(self) -> dict[str, Any]:
        """Debug: the node's name, actor, wall clock, view of peers and counters."""
        return (await self.call(Status(), StatusOk)).wire()

    async def preference_lists(self, keys: list[str]) -> dict[str, list[str]]:
        """Debug: the first N nodes of each key's preference list, in the node's ring view."""
        out: dict[str, list[str]] = {}
        for i in range(0, len(keys), MAX_PREFERENCE_KEYS):
            chunk = PreferenceLists(keys[i : i + MAX_PREFERENCE_KEYS])
            out.update((await self.call(chunk, PreferenceListsOk)).lists)
        return out

    async def join(
        self,
        seed: str | None = None,
        *,
        node: str | None = None,
        addr: str | None = None,
        weight: int | None = None,
    ) -> dict[str, Any]:
        """Membership: with `seed` ("host:port"), this node joins the cluster through that seed
        (a removed node rejoins); with `node`, this node adds that member (reachable at `addr`).
        Returns this node's membership view; joining completes asynchronously (see `members`)."""
        return (await self.call(Join(seed, node, addr, weight), MembersOk)).wire()

    async def leave(self, node: str) -> dict[str, Any]:
        """Membership: `node` leaves; it is tombstoned cluster-wide."""
        return (await self.call(Leave(node), MembersOk)).wire()

    async def members(self) -> dict[str, Any]:
        """Membership view: "members" in join order, "tombstones", "history_length", "joining"."""
        return (await self.call(Members(), MembersOk)).wire()

    async def ping(self) -> str:
        """Returns the node's name."""
        return str((await self.call(Ping(), Pong)).node)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
