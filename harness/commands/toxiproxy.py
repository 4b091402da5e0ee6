"""`sibyl toxiproxy`: run the Toxiproxy-compatible fault server in the foreground.

    sibyl toxiproxy [--host 127.0.0.1] [--port 8474] [--config proxies.json] [--seed S]

Speaks the Toxiproxy 2.x HTTP API (see `harness.toxiproxy.api`), so
`toxiproxy-python`, `toxiproxy-cli` and our adapter drive it alike. Stops on
SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.toxiproxy.server import ServerOptions, run


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Registers `toxiproxy` on the `sibyl` subparsers."""
    p = sub.add_parser(
        "toxiproxy",
        help="run the Toxiproxy-compatible fault server",
        description="Run a Toxiproxy 2.x API-compatible server (asyncio).",
    )
    add_arguments(p)
    p.set_defaults(func=_run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Adds the server's options to `p` (shared with `python -m harness.toxiproxy`)."""
    p.add_argument("--host", default="127.0.0.1", help="API address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8474, help="API port (default 8474; 0 = any)")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="JSON array of proxies to create at startup, as POST /populate takes",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for jitter, toxicity and slicing (default: random, logged)",
    )


def _run(args: argparse.Namespace) -> int:
    return run(ServerOptions(host=args.host, port=args.port, config=args.config, seed=args.seed))


def main(argv: list[str] | None = None) -> int:
    """Entry point for `python -m harness.toxiproxy` (no other command modules loaded)."""
    parser = argparse.ArgumentParser(prog="python -m harness.toxiproxy")
    add_arguments(parser)
    return _run(parser.parse_args(argv))
