"""`sibyl kv get|put`: poke at a cluster by hand. Contexts are printed and taken as base64."""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from harness.cluster import ClusterError, LocalCluster
from harness.commands.cluster import DEFAULT_DIR
from harness.errors import UsageError
from node import auth
from node.client import Client, NodeError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "kv",
        help="get or put a key by hand",
        description="Read or write one key. A get prints every sibling and the context; "
        "pass that context to a put (--context) to replace the siblings it covers.",
        epilog="Exit status: 0 done, 1 the node refused (e.g. unavailable), 254 bad arguments "
        "or an unreachable node.",
    )
    p.add_argument("--dir", default=DEFAULT_DIR, help="cluster directory to find a node in")
    p.add_argument("--node", help="HOST:PORT of the node to ask (default: first node of --dir)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait")
    p.add_argument("--secret-file", help="the cluster secret to prove (default: --dir's, if the "
                   "node is not given with --node; or $SIBYL_SECRET_FILE)")  # fmt: skip
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    g = verbs.add_parser("get", help="print the siblings and context of KEY")
    g.add_argument("key")
    g.set_defaults(func=_get)
    w = verbs.add_parser("put", help="write VALUE to KEY")
    w.add_argument("key")
    w.add_argument("value")
    w.add_argument("--context", default="", help="base64 context printed by a get")
    w.set_defaults(func=_put)


def _host_port(text: str) -> tuple[str, int]:
    """--node's HOST:PORT; raises ClusterError saying what is wrong."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f'--node: expected "host:port" with a port 1-65535, got {text!r}')
    return host, int(port)


def _address(args: argparse.Namespace) -> tuple[str, int]:
    if args.node:
        return _host_port(args.node)
    cluster = LocalCluster.load(args.dir)
    return cluster.addr(next(iter(cluster.nodes)))


def _secret(args: argparse.Namespace) -> bytes | None:
    """The secret to prove: --secret-file, else the --dir cluster's (None: the environment's)."""
    try:
        if args.secret_file:
            return auth.read_secret(args.secret_file)
        if not args.node and (Path(args.dir) / "secret").exists():
            return auth.read_secret(Path(args.dir) / "secret")
    except auth.SecretError as e:
        raise UsageError(f"--secret-file: {e}") from None
    return None


def _get(args: argparse.Namespace) -> int:
    async def go(host: str, port: int) -> int:
        c = await Client.connect(host, port, timeout_s=args.timeout, secret=_secret(args))
        try:
            r = await c.get(args.key)
        finally:
            await c.close()
        print(f"{len(r.siblings)} sibling(s) of {args.key!r} (via {r.node}):")
        for i, v in enumerate(r.siblings):
            print(f"  [{i}] {v.decode('utf-8', errors='backslashreplace')}")
        print(f"context: {base64.b64encode(r.context).decode()}")
        return 0

    return _run(args, go)


def _put(args: argparse.Namespace) -> int:
    try:
        ctx = base64.b64decode(args.context, validate=True)
    except binascii.Error:
        raise UsageError("--context is not base64; copy it from 'sibyl kv get'") from None

    async def go(host: str, port: int) -> int:
        c = await Client.connect(host, port, timeout_s=args.timeout, secret=_secret(args))
        try:
            await c.put(args.key, args.value.encode("utf-8"), ctx)
        finally:
            await c.close()
        print(f"ok: wrote {args.key!r}")
        return 0

    return _run(args, go)


def _run(args: argparse.Namespace, go: Callable[[str, int], Coroutine[Any, Any, int]]) -> int:
    try:
        host, port = _address(args)
    except ClusterError as e:
        raise UsageError(str(e)) from None
    try:
        return int(asyncio.run(go(host, port)))
    except (ConnectionError, TimeoutError, OSError) as e:
        raise UsageError(f"cannot reach the node at {host}:{port} ({e}); is the cluster up? "
                         "(sibyl cluster status)") from None  # fmt: skip
    except NodeError as e:
        print(f"sibyl kv {args.verb}: the node refused: {e}", file=sys.stderr)
        return 1
