"""`sibyl index`: rebuild the store's run index, merging in the runs of other stores."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from harness import runindex
from harness.errors import ExitCode

BAD_INPUT = int(ExitCode.USAGE)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "index",
        help="rebuild the store's run index (and merge stores from other machines)",
        description="Rebuild STORE/index.sqlite, which `sibyl serve` reads, from the run "
        "directories. With --merge, first copy in the runs of other stores (e.g. the shards of "
        "a nightly sweep, fetched from many machines); runs already present are skipped.",
    )
    p.add_argument("--store", default="store", help="the store to index (default store)")
    p.add_argument("--merge", action="append", default=[], metavar="OTHER_STORE",
                   help="copy OTHER_STORE's runs into the store first (repeatable)")  # fmt: skip
    p.set_defaults(func=_index)


def _index(args: argparse.Namespace) -> int:
    store = Path(args.store)
    for path in [store, *map(Path, args.merge)]:
        if not path.is_dir():
            print(f"sibyl index: {path} is not a directory; pass a store (a folder of runs)",
                  file=sys.stderr)  # fmt: skip
            return BAD_INPUT
    for other in args.merge:
        n = runindex.merge(store, Path(other))
        print(f"merged {n} new runs from {other}")
    t = time.monotonic()
    n = runindex.rebuild(store)
    print(f"indexed {n} runs in {time.monotonic() - t:.2f} s -> {store / runindex.INDEX}")
    return 0
