"""Times the linearizability checker on the shipped corpora, next to Porcupine's times.

Reads `tests/corpora/{porcupine,knossos,sibyl}/MANIFEST.tsv`; for every row it
parses the history (not timed), then times `check_operations` (the median of
`--repeat` runs after one warm-up, fewer for slow files, parsing excluded, as
the manifest's `porcupine_seconds` were measured). Prints per-family sums of
our median time (and of our best run: the machine may be shared and noisy)
and of `porcupine_seconds` for the same files, the ratio of the medians (over
the files Porcupine decided), the slowest files, and any verdict that differs
from the manifest's. Rows Porcupine did not decide have no time: they show
"-". The 50-client rows (Sibyl's, and Porcupine's kv `c50`) are also run once
in a fresh fork for their peak RSS (the parsed history included) and the
checker's verdict with the full timeout. `--plain` drops the models' hints
(`footprint`, `read_only`, `grows`): Porcupine's models as given, so the unpartitioned
kv rows are split only where the checker infers it from the model's step
function (checkers/linearizable/inferred.py); `--no-infer` turns that off too (the
anchor: the whole-history search). `--anchor` also runs each 50-client row as it
ran before partitions were retried one at a time (`one_at_a_time.py`), with the old
1 GiB cache cap, each in its own fork, in the same run. `--files` also prints every
file's times next to Porcupine's; `--corpus` picks corpora. The first line says whether
the checker's mypyc build is in use (`make deps` makes it; `SIBYL_NO_MYPYC=1` runs
the Python sources).

    .venv/bin/python benchmarks/linearizable_corpus.py [--repeat 5] [--only etcd] [--cpu]
        [--plain] [--no-infer] [--anchor] [--timeout 60] [--files] [--corpus knossos ...]
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import math
import resource
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

import native  # noqa: E402
from benchmarks.forked import run_forked  # noqa: E402
from checkers.linearizable import (  # noqa: E402
    ACTIVE,
    CheckResult,
    Model,
    check_operations,
    check_operations_info,
    inferred,  # noqa: E402
    load_history,
    one_at_a_time,  # noqa: E402
)
from checkers.linearizable.files import parse_initial_state  # noqa: E402
from checkers.linearizable.models import make_model  # noqa: E402
from checkers.linearizable.scheduler import DEFAULT_MAX_CACHE_BYTES  # noqa: E402

CORPORA = REPO_ROOT / "tests" / "corpora"
CORPUS_NAMES = ("porcupine", "knossos", "sibyl")
VERDICTS = {"linearizable": CheckResult.OK, "not-linearizable": CheckResult.ILLEGAL}
SLOW_S = 0.5
ANCHOR_CAP_BYTES = 1 << 30
"""The cache cap before the one-at-a-time retry (`--anchor`)."""


@dataclass
class Timing:
    family: str
    path: str
    model: str
    ours_s: float
    best_s: float
    porcupine_s: float
    result: CheckResult
    expected: CheckResult | None


def family_of(corpus: str, row: dict[str, str]) -> str:
    """Names a row's family: corpus, directory and model."""
    parts = Path(row["path"]).parts
    where = "/".join(parts[1:-1])
    return f"{corpus}:{where}[{row['model']}]"


def row_model(row: dict[str, str], plain: bool) -> Model:
    """The row's model; with `plain`, without its hints (footprint, read_only, grows)."""
    model = make_model(row["model"], parse_initial_state(row.get("initial_state") or None))
    if not plain:
        return model
    return dataclasses.replace(model, footprint=None, read_only=None, grows=None, grows_into=None)


def time_row(
    corpus: str,
    row: dict[str, str],
    repeat: int,
    timeout_s: float,
    clock: Callable[[], float],
    plain: bool = False,
) -> Timing:
    """Parses a row's history (untimed) and times its check."""
    history = load_history(CORPORA / corpus / row["path"])
    model = row_model(row, plain)
    runs: list[float] = []
    result = CheckResult.UNKNOWN
    for k in range(repeat + 1):
        start = clock()
        result = check_operations(model, history.operations, timeout=timeout_s)
        elapsed = clock() - start
        if k > 0 or elapsed > SLOW_S:
            runs.append(elapsed)
        if sum(runs) > 3 * SLOW_S:
            break
    return Timing(
        family_of(corpus, row),
        row["path"],
        row["model"],
        statistics.median(runs),
        min(runs),
        float(row["porcupine_seconds"] or "nan"),
        result,
        VERDICTS.get(row["expected_verdict"]),
    )


def report_files(timings: list[Timing]) -> None:
    """Prints every file's times, family by family, with Porcupine's and the ratio."""
    print(f"{'file':56} {'ours ms':>9} {'(best)':>9} {'porcupine ms':>12} {'ratio':>8}")
    for t in sorted(timings, key=lambda t: (t.family, t.path)):
        theirs = t.porcupine_s * 1e3
        ratio = f"{t.ours_s / t.porcupine_s:7.2f}x" if t.porcupine_s else "-"
        name = f"{t.path} [{t.model}]"
        print(
            f"{name[-56:]:56} {t.ours_s * 1e3:9.3f} {t.best_s * 1e3:9.3f} {theirs:12.3f} {ratio:>8}"
        )
    print()


def report(timings: list[Timing]) -> None:
    """Prints per-family sums, the slowest files and any wrong verdict."""
    fams: dict[str, list[Timing]] = defaultdict(list)
    for t in timings:
        fams[t.family].append(t)
    head = (
        f"{'family':46} {'files':>5} {'ours s':>8} {'(best)':>8} {'porcupine s':>11} {'ratio':>7}"
    )
    print(head)
    print("-" * len(head))
    for fam, ts in fams.items():
        _line(fam, ts)
    print("-" * len(head))
    _line("total", timings)
    print("\nslowest files:")
    for t in sorted(timings, key=lambda t: -t.ours_s)[:6]:
        ratio = t.ours_s / t.porcupine_s if t.porcupine_s else float("nan")
        theirs = "-" if math.isnan(t.porcupine_s) else f"{t.porcupine_s:.4f} s ({ratio:.1f}x)"
        print(f"  {t.path} [{t.model}]: {t.ours_s:.4f} s vs {theirs}")
    wrong = [t for t in timings if t.expected is not None and t.result is not t.expected]
    print(f"\nverdicts differing from the manifest: {len(wrong)}")
    for t in wrong:
        print(f"  {t.path} [{t.model}]: {t.result.value}, expected {t.expected}")


def _line(name: str, ts: list[Timing]) -> None:
    ours = sum(t.ours_s for t in ts)
    best = sum(t.best_s for t in ts)
    timed = [t for t in ts if not math.isnan(t.porcupine_s)]
    if not timed:
        print(f"{name:46} {len(ts):5d} {ours:8.4f} {best:8.4f} {'-':>11} {'-':>7}")
        return
    theirs = sum(t.porcupine_s for t in timed)
    ratio = sum(t.ours_s for t in timed) / theirs if theirs else float("nan")
    print(f"{name:46} {len(ts):5d} {ours:8.4f} {best:8.4f} {theirs:11.4f} {ratio:6.3f}x")


def _peak_row(
    corpus: str, row: dict[str, str], timeout_s: float, plain: bool, anchor: bool
) -> dict[str, Any]:
    history = load_history(CORPORA / corpus / row["path"])
    cap = ANCHOR_CAP_BYTES if anchor else DEFAULT_MAX_CACHE_BYTES
    one_at_a_time.ENABLED = not anchor  # a forked child: the parent keeps its own
    start = time.perf_counter()
    result, info = check_operations_info(
        row_model(row, plain), history.operations, timeout_s, max_cache_bytes=cap
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    why = f" ({info.unknown_reason})" if info.unknown_reason else ""
    elapsed, expected = time.perf_counter() - start, row["expected_verdict"]
    line = (
        f"{'anchor: ' if anchor else ''}"
        f"{row['path']} [{row['model']}]: {result.value}{why} in {elapsed:.2f} s, "
        f"peak {peak:.0f} MiB, {len(info.partitions)} parts searched, "
        f"{info.cache_entries:,} configurations, expected {expected}"
    )
    return {"line": line}


def peak_row(
    corpus: str, row: dict[str, str], timeout_s: float, plain: bool, anchor: bool = False
) -> str:
    """Checks one row once in a forked child; returns its verdict, time and peak RSS.

    `anchor`: as before the one-at-a-time retry, with the old 1 GiB cache cap."""
    out = run_forked(_peak_row, corpus, row, timeout_s, plain, anchor)
    return str(out.get("line") or f"{row['path']} [{row['model']}]: {out.get('error')}")


def main() -> int:
    """Times every manifest row; returns 2 if a corpus is missing."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per file (median)")
    ap.add_argument("--timeout", type=float, default=60.0, help="per-check timeout, seconds")
    ap.add_argument("--only", default="", help="only rows whose path or model contains this")
    ap.add_argument(
        "--cpu", action="store_true", help="time with process CPU time (steadier on a busy machine)"
    )
    ap.add_argument(
        "--plain", action="store_true", help="drop the models' hints (footprint, read_only, grows)"
    )
    ap.add_argument(
        "--no-infer", action="store_true", help="never infer a split from the model's step"
    )
    ap.add_argument(
        "--anchor",
        action="store_true",
        help="also run each 50-client row as before: 1 GiB cap, no one-at-a-time retry",
    )
    ap.add_argument("--files", action="store_true", help="also print every file's times")
    ap.add_argument(
        "--corpus",
        action="append",
        choices=CORPUS_NAMES,
        help="only this corpus (repeatable; default: all)",
    )
    args = ap.parse_args()
    if args.no_infer:
        inferred.MIN_OPS = sys.maxsize  # forked children inherit it
    clock = time.process_time if args.cpu else time.perf_counter
    build = "mypyc-compiled" if ACTIVE else "pure Python"
    print(f"checker: {build} ({native.DISABLE_ENV}=1: pure Python); clock: {clock.__name__}")
    timings = []
    fifty: list[tuple[str, dict[str, str]]] = []
    for corpus in args.corpus or CORPUS_NAMES:
        manifest = CORPORA / corpus / "MANIFEST.tsv"
        if not manifest.is_file():
            print(f"missing corpus manifest: {manifest}", file=sys.stderr)
            return 2
        with manifest.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                if args.only not in row["path"] + row["model"]:
                    continue
                if corpus == "sibyl" or "c50" in row["path"]:
                    fifty.append((corpus, row))
                t = time_row(corpus, row, args.repeat, args.timeout, clock, args.plain)
                timings.append(t)
    if args.files:
        report_files(timings)
    report(timings)
    if fifty:
        print("\n50-client histories, once each in a fresh fork (wall time, peak RSS):")
        for corpus, row in fifty:
            if args.anchor:
                print("  " + peak_row(corpus, row, args.timeout, args.plain, anchor=True))
            print("  " + peak_row(corpus, row, args.timeout, args.plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
