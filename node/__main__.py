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

import uvloop

from node.config import ConfigError, load_config
from node.server import NodeServer
from node.storage import StorageError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m node", description="Run one Sibyl node.")
    parser.add_argument("--config", required=True, help="the node's TOML config file")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for module in filter(None, os.environ.get("SIBYL_INTERCEPTS", "").split(",")):
        importlib.import_module(module.strip())
        logging.getLogger("sibyl.node").warning("intercept loaded: %s", module.strip())
    try:
        cfg = load_config(args.config)
        server = NodeServer(cfg)
    except (ConfigError, StorageError) as e:
        print(f"node: {e}", file=sys.stderr)
        return 2
    if os.environ.get("SIBYL_EVENT_LOOP", "uvloop") == "uvloop":
        uvloop.run(server.serve())
    else:
        asyncio.run(server.serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
