"""`python -m harness.probe HOST PORT TIMEOUT_S`: one node ping, run on a lab host.

The iptables fault network verifies a link (src -> dst) by running this on src's
host: it connects to dst's node, completes the hello and times one ping. It
prints the ping's seconds and exits 0, or exits 1 when there was no answer within
TIMEOUT_S. It needs only the node's client (installed by the deploy).
"""

from __future__ import annotations

import asyncio
import sys

from harness.ping import ping_s


async def _timed(host: str, port: int, timeout_s: float) -> float:
    async with asyncio.timeout(timeout_s):
        return await ping_s(host, port, timeout_s)


def main(argv: list[str]) -> int:
    host, port, timeout_s = argv[0], int(argv[1]), float(argv[2])
    try:
        print(f"{asyncio.run(_timed(host, port, timeout_s)):.6f}")
    except (OSError, TimeoutError) as e:
        print(f"no answer: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
