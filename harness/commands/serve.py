"""`sibyl serve`: a results site over the store (runs, trends, reports, raw files).

`/` is the table of runs (filters: `?verdict=`, `?workload=`), `/trends` the
history of each configuration; every other path is a file of the store.
History, logs and text files open as text in the browser, not as downloads.
Binds to loopback unless told otherwise.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from harness import runindex, site
from harness.errors import UsageError

TEXT = "text/plain; charset=utf-8"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="browse stored runs: a table of runs, trends, reports",
        description="Serve a results site over the store: http://HOST:PORT/ lists the runs "
        "(filter by verdict and workload), /trends shows each configuration over time, and "
        "each run's report and files are linked. Ctrl-C stops it.",
    )
    p.add_argument("--store", default="store", help="the store directory")
    p.add_argument("--host", default="127.0.0.1", help="address to bind")
    p.add_argument("--port", type=int, default=8080, help="port")
    p.set_defaults(func=_serve)


class Handler(http.server.SimpleHTTPRequestHandler):
    """Site pages from the index; files from the store (text types shown inline)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".jsonl": TEXT, ".log": TEXT, ".txt": TEXT, ".json": "application/json",
                      ".xml": "application/xml"}  # fmt: skip

    def __init__(self, *args: Any, store: Path, **kwargs: Any) -> None:
        self.store = store
        super().__init__(*args, directory=str(store), **kwargs)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        url = urlsplit(self.path)
        if url.path in ("/", "/index.html"):
            with runindex.connect(self.store) as db:
                page = site.runs_page(db, **site.query_args(parse_qs(url.query)))
            self._send(page)
        elif url.path == "/trends":
            with runindex.connect(self.store) as db:
                self._send(site.trends_page(db))
        else:
            super().do_GET()

    def _send(self, page: str) -> None:
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # a quiet server: the terminal shows where it listens, not every request


def _serve(args: argparse.Namespace) -> int:
    store = Path(args.store)
    if not store.is_dir():
        raise UsageError(f"no store at {store}; run `sibyl run` first or pass --store")
    if not (store / runindex.INDEX).is_file():
        t = time.monotonic()
        n = runindex.rebuild(store)
        print(f"indexed {n} runs in {time.monotonic() - t:.1f} s")
    handler = functools.partial(Handler, store=store)
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as e:
        raise UsageError(
            f"cannot listen on {args.host}:{args.port}: {e.strerror}; pick another --port"
        ) from None
    print(f"serving {store} at http://{args.host}:{server.server_port}/ "
          "(runs; /trends for trends); Ctrl-C to stop", flush=True)  # fmt: skip
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
