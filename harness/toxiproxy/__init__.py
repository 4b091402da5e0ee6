"""A Toxiproxy 2.x API-compatible fault server (asyncio) and Sibyl's client adapter.

Server: `sibyl toxiproxy` or `python -m harness.toxiproxy`; from Python,
`start_server()` runs it (or the real `toxiproxy-server` when it is on PATH) as a
subprocess on a free loopback port and returns a `ServerProcess` with a ready
`ToxiproxyClient`. Client: `ToxiproxyClient`, a small adapter with request
timeouts, an instance-level address and errors that say what to do.
"""

from harness.toxiproxy.adapter import (
    InvalidRequest,
    NotFound,
    ProxyExists,
    ProxyInfo,
    ServerError,
    ServerUnreachable,
    ToxicInfo,
    ToxiproxyClient,
    ToxiproxyError,
)
from harness.toxiproxy.launcher import LaunchError, ServerKind, ServerProcess, start_server
from harness.toxiproxy.spec import Stream, ToxicKind

__all__ = [
    "InvalidRequest",
    "LaunchError",
    "NotFound",
    "ProxyExists",
    "ProxyInfo",
    "ServerError",
    "ServerKind",
    "ServerProcess",
    "ServerUnreachable",
    "Stream",
    "ToxicInfo",
    "ToxicKind",
    "ToxiproxyClient",
    "ToxiproxyError",
    "start_server",
]
