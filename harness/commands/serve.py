"""`sibyl serve`: browse the store (run directories, reports, histories) over HTTP."""

from __future__ import annotations

import argparse
import functools
import http.server
from pathlib import Path

from harness.errors import UsageError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="browse stored runs in a web browser",
        description="Serve the store directory over HTTP (like Jepsen's `serve`): open "
        "http://HOST:PORT/latest/report.html for the newest run. Ctrl-C stops it.",
    )
    p.add_argument("--store", default="store", help="the store directory")
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=int, default=8080, help="port")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    store = Path(args.store)
    if not store.is_dir():
        raise UsageError(f"no store at {store}; run `sibyl run` first or pass --store")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(store))
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as e:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {e.strerror}; pick another --port"
        ) from None
    print(f"serving {store} at http://{args.host}:{server.server_port}/ "
          f"(newest run: /latest/report.html); Ctrl-C to stop")  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
