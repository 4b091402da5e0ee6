"""`python -m harness.probe HOST PORT TIMEOUT_S`: one node ping, run on a lab host.

The iptables fault network verifies a link (src -> dst) by running this on src's
host: it connects to dst's node, completes the hello and times one ping. It
prints the ping's seconds and exits 0, or exits 1 when there was no answer within
TIMEOUT_S. It needs only the node's client (installed by the deploy).
"""

from __future__ import annotations

import asyncio
import sys
import time

from node.client import Client


async def ping_s(host: str, port: int, timeout_s: float) -> float:
    """Seconds one ping takes on a fresh connection (the hello is not counted)."""
    async with asyncio.timeout(timeout_s):
        client = await Client.connect(host, port, timeout_s=timeout_s, name="net-probe")
        try:
            started = time.monotonic()
            await client.ping()
            return time.monotonic() - started
        finally:
            await client.close()


def main(argv: list[str]) -> int:
    host, port, timeout_s = argv[0], int(argv[1]), float(argv[2])
    try:
        print(f"{asyncio.run(ping_s(host, port, timeout_s)):.6f}")
    except (OSError, TimeoutError) as e:
        print(f"no answer: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
