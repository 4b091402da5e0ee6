"""`python -m node --config FILE.toml`: run one node until SIGTERM.

`SIBYL_INTERCEPTS=mod1,mod2` imports those modules first; they may monkeypatch
node internals to plant a known bug (see tests/intercepts/).
`SIBYL_EVENT_LOOP=asyncio` runs on the standard event loop instead of uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from typing import NoReturn

import uvloop

from node.auth import SecretError
from node.config import ConfigError, load_config
from node.server import ListenError, NodeServer
from node.storage import StorageError

#: Exit status for a config, intercept or address the node cannot use (as `sibyl`'s).
USAGE = 254


def _load_intercept(module: str) -> None:
    """Imports a planted-bug module; raises ConfigError naming it if that fails."""
    try:
        importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 - any failure of the module is the same mistake
        raise ConfigError(
            f"SIBYL_INTERCEPTS: cannot import {module!r} ({type(e).__name__}: {e}); "
            "run from the repository root or fix PYTHONPATH"
        ) from None
    logging.getLogger("sibyl.node").warning("intercept loaded: %s", module)


class _Parser(argparse.ArgumentParser):
    """Bad arguments exit 254, as every `sibyl` command does (argparse's 2 means unknown)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    """Runs the node until SIGTERM; 0 on a clean stop, 254 on an unusable config or address."""
    parser = _Parser(prog="python -m node", description="Run one Sibyl node.")
    parser.add_argument("--config", required=True, help="the node's TOML config file")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        for module in filter(None, os.environ.get("SIBYL_INTERCEPTS", "").split(",")):
            _load_intercept(module.strip())
        cfg = load_config(args.config)
        server = NodeServer(cfg)
    except (ConfigError, StorageError, SecretError) as e:
        print(f"node: {e}", file=sys.stderr)
        return USAGE
    try:
        if os.environ.get("SIBYL_EVENT_LOOP", "uvloop") == "uvloop":
            uvloop.run(server.serve())
        else:
            asyncio.run(server.serve())
    except ListenError as e:
        print(f"node: {e} (`listen` in {args.config}); pick a free port or an address of "
              "this host", file=sys.stderr)  # fmt: skip
        return USAGE
    return 0


if __name__ == "__main__":
    sys.exit(main())
