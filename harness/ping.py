"""One node ping, timed: the probe under every fault check (local mesh, and on lab hosts).

It imports only the node's client, so a lab host runs it from the deployed venv
(`python -m harness.probe`) without the rest of the harness's dependencies.
"""

from __future__ import annotations

import time

from node.client import Client


async def ping_s(host: str, port: int, timeout_s: float) -> float:
    """Seconds one ping to the node at host:port takes on an established connection
    (the hello is not counted); raises TimeoutError/OSError when there is no answer."""
    client = await Client.connect(host, port, timeout_s=timeout_s, name="nemesis-probe")
    try:
        started = time.monotonic()
        await client.ping()
        return time.monotonic() - started
    finally:
        await client.close()
