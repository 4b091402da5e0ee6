"""A proxy: a listening socket, its live links, and its ordered list of toxics.

An enabled proxy listens on `listen`; for each accepted client it dials
`upstream` (the client is not read until the dial succeeds; if it fails the
client is closed) and joins the two sockets in a `Link`. Disabling a proxy
closes the listener (new connections are refused) and aborts every link.
Adding, updating or removing a toxic applies to every live link at once as well
as to links made later.

Invariant: `spec.enabled` is true exactly when the listener is open, and
`spec.listen` is the address actually bound (port 0 is replaced by the real one).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from dataclasses import replace
from typing import Any

from harness.toxiproxy.link import Link, Side
from harness.toxiproxy.spec import Address, ApiError, ProxySpec, Stream, ToxicSpec, parse_address

log = logging.getLogger("sibyl.toxiproxy")

#: How long a proxy waits to connect to its upstream before closing the client.
UPSTREAM_CONNECT_TIMEOUT_S = 5.0
#: Listen backlog for each proxy.
LISTEN_BACKLOG = 512


class Proxy:
    """One named proxy; all methods run on the server's event loop."""

    def __init__(self, spec: ProxySpec, rng: random.Random) -> None:
        self.spec = replace(spec, enabled=False)
        self.rng = rng
        self.toxics: dict[str, tuple[int, ToxicSpec]] = {}  # name -> (order, spec)
        self.links: dict[int, Link] = {}
        self._orders = itertools.count()
        self._link_ids = itertools.count()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle --
    async def start(self) -> None:
        """Opens the listener; a bind failure is a 500 naming the address (as Toxiproxy)."""
        if self.spec.enabled:
            return
        address = parse_address(self.spec.listen, "listen")
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                self._accept,
                host=address.host or None,
                port=address.port,
                backlog=LISTEN_BACKLOG,
                reuse_address=True,
            )
        except OSError as exc:
            raise ApiError(500, f"listen tcp {self.spec.listen}: {exc.strerror or exc}") from None
        bound = self._server.sockets[0].getsockname()
        self.spec = replace(self.spec, listen=str(Address(bound[0], bound[1])), enabled=True)
        log.info(
            "started proxy %s on %s -> %s", self.spec.name, self.spec.listen, self.spec.upstream
        )

    def stop(self) -> None:
        """Closes the listener and aborts every live link."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self.links.values()):
            link.abort()
        for task in list(self._tasks):
            task.cancel()
        if self.spec.enabled:
            log.info("stopped proxy %s", self.spec.name)
        self.spec = replace(self.spec, enabled=False)

    async def update(self, new: ProxySpec) -> None:
        """Applies an update with Toxiproxy's rules: a changed listen or upstream
        restarts the proxy; then `enabled` starts or stops it."""
        if new.listen != self.spec.listen or new.upstream != self.spec.upstream:
            self.stop()
            self.spec = replace(self.spec, listen=new.listen, upstream=new.upstream)
        if new.enabled and not self.spec.enabled:
            await self.start()
        elif not new.enabled:
            self.stop()

    # -- toxics --
    def toxic(self, name: str) -> ToxicSpec:
        """The toxic called `name`; 404 when there is none."""
        if name not in self.toxics:
            raise ApiError(404, "toxic not found")
        return self.toxics[name][1]

    def toxic_list(self) -> list[ToxicSpec]:
        """Upstream toxics then downstream ones, each in the order they were added."""
        ordered = sorted(self.toxics.values(), key=lambda item: item[0])
        specs = [spec for _, spec in ordered]
        return [s for s in specs if s.stream is Stream.UPSTREAM] + [
            s for s in specs if s.stream is Stream.DOWNSTREAM
        ]

    def add_toxic(self, spec: ToxicSpec) -> None:
        """Adds a toxic to the end of its stream's chain, on live links too; 409 on a
        duplicate name."""
        if spec.name in self.toxics:
            raise ApiError(409, "toxic already exists")
        order = next(self._orders)
        self.toxics[spec.name] = (order, spec)
        for link in list(self.links.values()):
            link.halves[spec.stream].attach(spec, order)

    def update_toxic(self, spec: ToxicSpec) -> None:
        """Replaces the toxic of the same name, on live links too."""
        order, _ = self.toxics[spec.name]
        self.toxics[spec.name] = (order, spec)
        for link in list(self.links.values()):
            link.halves[spec.stream].update(spec)

    def remove_toxic(self, name: str) -> None:
        """Removes a toxic; data it held on live links passes on. 404 when absent."""
        spec = self.toxic(name)
        del self.toxics[name]
        for link in list(self.links.values()):
            link.halves[spec.stream].detach(name)

    def remove_all_toxics(self) -> None:
        for name in list(self.toxics):
            self.remove_toxic(name)

    def to_json(self) -> dict[str, Any]:
        """Toxiproxy's proxy shape, toxics included."""
        return {
            "name": self.spec.name,
            "listen": self.spec.listen,
            "upstream": self.spec.upstream,
            "enabled": self.spec.enabled,
            "toxics": [t.to_json() for t in self.toxic_list()],
        }

    # -- connections --
    def _accept(self) -> Side:
        link_id = next(self._link_ids)

        def forget(_: Link) -> None:
            self.links.pop(link_id, None)

        link = Link(self.spec.name, self.rng, forget)
        self.links[link_id] = link
        link.client = _ClientSide(link, self)
        # Join the halves now, before the upstream socket exists, so that nothing it
        # sends (even at once, even just a FIN) can arrive before there is a pipe.
        link.connect(sorted(self.toxics.values(), key=lambda item: item[0]))
        return link.client

    def _dial(self, link: Link) -> None:
        task = asyncio.get_running_loop().create_task(self._connect_upstream(link))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect_upstream(self, link: Link) -> None:
        address = parse_address(self.spec.upstream, "upstream")
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: link.upstream, address.host, address.port),
                UPSTREAM_CONNECT_TIMEOUT_S,
            )
        except (OSError, TimeoutError) as exc:
            log.warning(
                "proxy %s: unable to open connection to upstream %s: %s",
                self.spec.name,
                self.spec.upstream,
                exc,
            )
            link.close()
            return
        if link.closed:  # the client left, or the proxy stopped, while we dialled
            if link.upstream.transport is not None:
                link.upstream.transport.abort()
            return
        assert link.client.transport is not None
        link.client.transport.resume_reading()


class _ClientSide(Side):
    """The accepted client socket: holds reading until the upstream is connected."""

    def __init__(self, link: Link, proxy: Proxy) -> None:
        super().__init__(link)
        self.proxy = proxy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()
        self.proxy._dial(self.link)
