"""The set of proxies one server holds, keyed by name, and the seeded randomness they share.

All operations run on the server's event loop, one API request at a time
(`ProxyCollection.lock`), so a populate or reset is never interleaved with
another change. Errors are `ApiError`s carrying Toxiproxy's status codes.
"""

from __future__ import annotations

import asyncio
import random

from harness.toxiproxy.proxy import Proxy
from harness.toxiproxy.spec import ApiError, ProxySpec, parse_address


class ProxyCollection:
    """Named proxies sharing one `random.Random` (jitter, toxicity, slice sizes)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()

    def get(self, name: str) -> Proxy:
        """The proxy called `name`; 404 when there is none."""
        if name not in self.proxies:
            raise ApiError(404, "proxy not found")
        return self.proxies[name]

    def ordered(self) -> list[Proxy]:
        """Every proxy, sorted by name (a stable order for JSON answers)."""
        return [self.proxies[name] for name in sorted(self.proxies)]

    async def add(self, spec: ProxySpec) -> Proxy:
        """Creates a proxy and starts it when `spec.enabled`; 409 on a duplicate name,
        500 when it cannot listen (it is then not added)."""
        if spec.name in self.proxies:
            raise ApiError(409, "proxy already exists")
        proxy = Proxy(spec, self.rng)
        if spec.enabled:
            await proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    async def add_or_replace(self, spec: ProxySpec) -> Proxy:
        """Populate's rule: an existing proxy whose listen and upstream are the same
        addresses is kept as it is (toxics and connections included); otherwise it
        is stopped and replaced."""
        existing = self.proxies.get(spec.name)
        if existing is not None:
            if _same_addresses(existing.spec, spec):
                return existing
            existing.stop()
            del self.proxies[spec.name]
        return await self.add(spec)

    async def populate(self, specs: list[ProxySpec]) -> list[Proxy]:
        """Applies validated specs in order; stops at the first failure (the error
        says which proxy) and returns those applied so far otherwise."""
        applied: list[Proxy] = []
        for spec in specs:
            try:
                applied.append(await self.add_or_replace(spec))
            except ApiError as exc:
                raise ApiError(exc.status, f"{exc.message} (proxy {spec.name!r})") from None
        return applied

    def remove(self, name: str) -> None:
        """Stops and forgets a proxy; 404 when absent."""
        self.get(name).stop()
        del self.proxies[name]

    async def reset(self) -> None:
        """Re-enables every proxy and removes every toxic."""
        for proxy in self.ordered():
            if not proxy.spec.enabled:
                await proxy.start()
            proxy.remove_all_toxics()

    def close(self) -> None:
        """Stops every proxy."""
        for proxy in self.proxies.values():
            proxy.stop()


def _same_addresses(current: ProxySpec, wanted: ProxySpec) -> bool:
    """True when `wanted` names the addresses `current` already uses. A wanted port 0
    matches any bound port on the same host, and a host is compared as written after
    dropping brackets, so `127.0.0.1:0` keeps a proxy bound to `127.0.0.1:41234`."""
    if current.upstream != wanted.upstream and parse_address(
        current.upstream, "upstream"
    ) != parse_address(wanted.upstream, "upstream"):
        return False
    have = parse_address(current.listen, "listen")
    want = parse_address(wanted.listen, "listen")
    return have.host == want.host and want.port in (0, have.port)
