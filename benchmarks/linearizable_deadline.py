"""How far past its deadline a timed-out linearizability check returns, by cache size.

Runs, in a fresh fork each, checks that cannot finish within their timeout:
the 50-client `kv-c50-bad-uniform` history of the Sibyl corpus, checked with
the kv model without its growth hints (with them it is decided in about 2 s;
without, the cache grows at about a hundred thousand configurations a second
and the check never ends), with the memory cap
raised out of the way, so the cache is as large as the timeout allows. For
each timeout it prints the wall time from the call to its return (measured
outside the checker), the overrun past the deadline the checker reports
itself, the cache size (configurations and the checker's estimate of their
bytes) and the child's peak RSS. The promise: `timeout=T` returns by T + 0.5 s.

    .venv/bin/python benchmarks/linearizable_deadline.py [--timeouts 2 10 30 60]
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.forked import run_forked  # noqa: E402
from checkers.linearizable import check_operations_info, load_history, make_model  # noqa: E402

HISTORY = REPO_ROOT / "tests" / "corpora" / "sibyl" / "data" / "kv-c50-bad-uniform.edn"
PROMISE_S = 0.5


def run_one(timeout_s: float, cap_bytes: int) -> dict[str, Any]:
    """One check with `timeout_s`, here; what it reports and what was measured around it."""
    ops = load_history(HISTORY).operations
    model = dataclasses.replace(make_model("kv"), grows=None, grows_into=None, resets_to=None)
    start = time.monotonic()
    result, info = check_operations_info(model, ops, timeout_s, max_cache_bytes=cap_bytes)
    wall = time.monotonic() - start
    return {
        "result": result.value,
        "reason": info.unknown_reason,
        "wall_s": wall,
        "overrun_s": info.overrun_s,
        "entries": info.cache_entries,
        "cache_mib": info.cache_bytes / 2**20,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeouts", type=float, nargs="+", default=[2.0, 10.0, 30.0])
    ap.add_argument("--cap-gib", type=float, default=8.0, help="memory cap, raised out of the way")
    args = ap.parse_args()
    cap = f"memory cap {args.cap_gib:g} GiB"
    print(f"{HISTORY.name} [kv without growth hints], {cap}; promise: back by T + {PROMISE_S} s")
    print(f"{'T s':>6} {'result':>8} {'wall s':>8} {'past T s':>9} {'reported':>9} "
          f"{'configs':>11} {'cache MiB':>10} {'peak MiB':>9}")  # fmt: skip
    kept = True
    for t in args.timeouts:
        m = run_forked(run_one, t, int(args.cap_gib * 2**30))
        if "error" in m:
            print(f"{t:6g} crashed: {m['error']}")
            kept = False
            continue
        late = m["wall_s"] - t
        kept = kept and late <= PROMISE_S
        print(f"{t:6g} {m['result'] + ('/' + m['reason'] if m['reason'] else ''):>8} "
              f"{m['wall_s']:8.2f} {late:9.3f} {m['overrun_s']:9.3f} {m['entries']:11,} "
              f"{m['cache_mib']:10.0f} {m['peak_mib']:9.0f}")  # fmt: skip
    print("promise kept" if kept else "promise MISSED (see 'past T s')")
    return 0 if kept else 1


if __name__ == "__main__":
    sys.exit(main())
