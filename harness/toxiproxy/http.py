"""A small HTTP/1.1 server on asyncio streams, enough for a JSON control API.

It reads a request line, headers and a `Content-Length` body (chunked bodies are
refused with 411), hands a `Request` to the handler and writes its `Response`.
Connections are kept alive unless the client asks otherwise. Everything is
bounded: the header block (`MAX_HEADER_BYTES`), the body (`MAX_BODY_BYTES`),
and the time a client may take to send a request (`READ_TIMEOUT_S`) or sit idle
(`IDLE_TIMEOUT_S`). A malformed request gets a 400 and the connection is closed;
it never stops the server.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

log = logging.getLogger("sibyl.toxiproxy")

MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
READ_TIMEOUT_S = 15.0
IDLE_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Request:
    """A parsed request; `path` is percent-decoded per segment, without the query."""

    method: str
    segments: tuple[str, ...]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    """What the handler answers."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def json(status: int, payload: Any) -> Response:
        """A JSON response (compact, UTF-8, newline-terminated like Go's encoder)."""
        return Response(status, json.dumps(payload, separators=(",", ":")).encode() + b"\n")


Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(Exception):
    """The bytes received are not a request this server accepts."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def serve_http(handler: Handler, host: str, port: int) -> asyncio.Server:
    """Starts serving `handler` on host:port; returns the listening server."""

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await _serve_connection(handler, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(
        on_connection, host, port, limit=MAX_HEADER_BYTES, reuse_address=True
    )


async def _serve_connection(
    handler: Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while True:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT_S)
        except asyncio.IncompleteReadError:
            return  # the client closed between requests
        except asyncio.LimitOverrunError:
            await _write(writer, _error(431, "request header block too large"), close=True)
            return
        try:
            request, keep_alive = await _parse(head, reader, writer)
        except BadRequest as exc:
            await _write(writer, _error(exc.status, str(exc)), close=True)
            return
        try:
            response = await handler(request)
        except Exception:  # a bug in a handler must not take the server down
            log.exception(
                "API handler failed on %s /%s", request.method, "/".join(request.segments)
            )
            response = _error(500, "internal error in the Toxiproxy-compatible server; see its log")
        await _write(writer, response, close=not keep_alive)
        if not keep_alive:
            return


async def _parse(
    head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[Request, bool]:
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError as exc:  # pragma: no cover - latin-1 decodes any byte
        raise BadRequest(400, "undecodable request head") from exc
    request_line, *header_lines = text[:-4].split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, f"malformed request line {request_line[:100]!r}")
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise BadRequest(400, f"malformed header line {line[:100]!r}")
        headers[name.strip().lower()] = value.strip()
    if headers.get("expect", "").lower() == "100-continue":  # curl, for larger bodies
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    body = await _read_body(headers, reader)
    segments = tuple(unquote(s) for s in urlsplit(target).path.split("/") if s)
    connection = headers.get("connection", "").lower()
    keep_alive = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
    return Request(method.upper(), segments, headers, body), keep_alive


async def _read_body(headers: dict[str, str], reader: asyncio.StreamReader) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        raise BadRequest(411, "chunked request bodies are not supported; send Content-Length")
    length_text = headers.get("content-length", "0")
    if not length_text.isdigit():
        raise BadRequest(400, f"bad Content-Length {length_text[:40]!r}")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise BadRequest(413, f"request body of {length} bytes exceeds {MAX_BODY_BYTES}")
    if length == 0:
        return b""
    return await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT_S)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _error(status: int, message: str) -> Response:
    return Response.json(status, {"error": message, "status": status})


async def _write(writer: asyncio.StreamWriter, response: Response, *, close: bool) -> None:
    lines = [f"HTTP/1.1 {response.status} {_reason(response.status)}"]
    has_body = response.status not in (204, 304)
    if has_body:
        lines.append(f"Content-Type: {response.content_type}")
        lines.append(f"Content-Length: {len(response.body)}")
    lines.extend(f"{k}: {v}" for k, v in response.headers.items())
    if close:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    writer.write(head + (response.body if has_body else b""))
    await writer.drain()
