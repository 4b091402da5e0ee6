"""Wiring and running the Toxiproxy-compatible server: config, seed, API, signals.

`run(ServerOptions(...))` blocks until SIGINT/SIGTERM and returns an exit status.
The seed is logged before anything else, so any run can be replayed with
`--seed`. The first line on stdout, once the API answers, is
`sibyl toxiproxy: listening on HOST:PORT seed=S` (tools may wait for it).
A `--config` file is a JSON array of proxies, as POST /populate takes; a file
that cannot be read or parsed stops startup with a message naming the file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ExitCode
from harness.toxiproxy.api import Api
from harness.toxiproxy.collection import ProxyCollection
from harness.toxiproxy.http import serve_http
from harness.toxiproxy.spec import ApiError, ProxySpec, parse_populate

log = logging.getLogger("sibyl.toxiproxy")


class ConfigError(Exception):
    """A --config file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class ServerOptions:
    """How to run the server. `seed` None means pick one (and log it)."""

    host: str = "127.0.0.1"
    port: int = 8474
    config: Path | None = None
    seed: int | None = None


def load_config(path: Path) -> list[ProxySpec]:
    """Reads and validates a proxies file (a JSON array of {name, listen, upstream,
    enabled?}); raises `ConfigError` naming `path` and what is wrong with it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"config file {path} is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}; expected an array of "
            '{"name": ..., "listen": "host:port", "upstream": "host:port"}'
        ) from None
    try:
        return parse_populate(body)
    except ApiError as exc:
        detail = exc.message.removeprefix("bad request body: ")
        raise ConfigError(f"config file {path}: {detail}") from None


class ToxiproxyServer:
    """The API server plus its proxies, on the running event loop."""

    def __init__(self, rng: random.Random) -> None:
        self.collection = ProxyCollection(rng)
        self.api = Api(self.collection)
        self._http: asyncio.Server | None = None

    async def start(self, host: str, port: int, proxies: list[ProxySpec]) -> tuple[str, int]:
        """Creates `proxies`, then serves the API; returns the bound (host, port).
        Raises `ConfigError` if a configured proxy cannot start."""
        try:
            await self.collection.populate(proxies)
        except ApiError as exc:
            raise ConfigError(f"cannot start configured proxies: {exc.message}") from None
        self._http = await serve_http(self.api.handle, host, port)
        bound = self._http.sockets[0].getsockname()
        return bound[0], bound[1]

    async def close(self) -> None:
        """Stops the API and every proxy."""
        if self._http is not None:
            self._http.close()
            await self._http.wait_closed()
        self.collection.close()


async def serve(options: ServerOptions, seed: int) -> int:
    """Runs until SIGINT/SIGTERM; returns the exit status."""
    proxies = load_config(options.config) if options.config else []
    server = ToxiproxyServer(random.Random(seed))
    try:
        host, port = await server.start(options.host, options.port, proxies)
    except OSError as exc:
        await server.close()
        print(
            f"sibyl toxiproxy: cannot listen on {options.host}:{options.port}: "
            f"{exc.strerror or exc}; pick another --port",
            file=sys.stderr,
        )
        return int(ExitCode.USAGE)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"sibyl toxiproxy: listening on {host}:{port} seed={seed}", flush=True)
    log.info("API on %s:%d with %d configured proxies", host, port, len(proxies))
    await stop.wait()
    await server.close()
    return 0


def run(options: ServerOptions) -> int:
    """Runs the server in this process; returns 0 on a clean stop, 254 on a bad config
    or an API port that cannot be bound."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    seed = options.seed if options.seed is not None else random.SystemRandom().randrange(2**63)
    log.info("seed %d", seed)
    try:
        return asyncio.run(serve(options, seed))
    except ConfigError as exc:
        print(f"sibyl toxiproxy: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
