"""Eventual convergence: after the final heal, every replica of a key agrees.

The runner reads every key on each of its primaries through the debug API
(``replica-read`` ops, docs/history.md), in rounds (extra ``round``) until they
agree or a deadline passes. This checker judges the last round of each key:

* ``divergent-siblings``: two replicas hold different sibling sets (compared
  as multisets of canonical JSON values, so order does not matter);
* ``divergent-context``: two replicas hold different clocks (contexts are
  canonical strings: equal strings mean equal clocks).

The time to converge of a key is measured from the heal to the end of the
first round from which every later round agrees. Replica reads before the heal
are ignored. Verdict: False on divergence; "unknown" without replica reads,
when a key was read on fewer than `replicas_per_key` replicas, or on a history
it cannot interpret; else True.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from checkers.budget import Budget
from checkers.cart_history import CartHistory, History, ReplicaRead, run_checked
from checkers.explain import AnomalySink, explain
from checkers.result import UNKNOWN, Result, Validity

Round = dict[str | None, ReplicaRead]


def check(
    history: History,
    *,
    time_limit_s: float = 60.0,
    max_anomalies: int = 100,
    replicas_per_key: int | None = None,
) -> Result:
    """Takes a history with replica reads (ops, a JSONL path or a CartHistory); returns the verdict.

    Stats: keys checked, rounds, and the time to converge in ms (max and p50
    over keys; None when no heal is recorded).
    """
    return run_checked(
        lambda h, b: _check(h, b, max_anomalies, replicas_per_key),
        history,
        time_limit_s=time_limit_s,
    )


def _check(h: CartHistory, budget: Budget, max_anomalies: int, n_replicas: int | None) -> Result:
    budget.enter("grouping replica reads")
    heal = h.timeline.heal_time
    rounds: dict[str, dict[int, Round]] = defaultdict(lambda: defaultdict(dict))
    for rr in h.replica_reads:
        budget.tick()
        if heal is None or rr.time >= heal:
            rounds[rr.key][rr.round][rr.node] = rr
    if not rounds:
        return Result(UNKNOWN, stats={"reason": "no replica-read ops after the final heal"})
    sink = AnomalySink(max_anomalies)
    budget.enter("comparing replicas")
    converge_ns: list[int] = []
    short: list[str] = []
    for key in sorted(rounds):
        by_round = rounds[key]
        last = by_round[max(by_round)]
        if n_replicas is not None and len(last) < n_replicas:
            short.append(key)
        t = _converged_at(by_round, budget, last_agrees=_compare(key, last, h, sink))
        if t is not None and heal is not None:
            converge_ns.append(max(0, t - heal))
    stats = _stats(rounds, converge_ns, heal, sink)
    valid: Validity = True
    if sink.counts:
        valid = False
    elif short:
        valid = UNKNOWN
        stats["reason"] = f"{len(short)} keys read on fewer than {n_replicas} replicas"
    return Result(valid, sink.items, stats)


_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
"""`json.dumps(s, sort_keys=True, separators=(",", ":"))` without building an encoder per call."""


def _canonical(rr: ReplicaRead) -> tuple[str, ...]:
    return tuple(sorted(map(_ENCODE, rr.siblings)))


def _agrees(rnd: Round) -> bool:
    reads = list(rnd.values())
    first = reads[0]
    sibs = _canonical(first)
    return all(r.context == first.context and _canonical(r) == sibs for r in reads[1:])


def _converged_at(by_round: dict[int, Round], budget: Budget, *, last_agrees: bool) -> int | None:
    """The end time of the first round from which every later round agrees, else None.

    `last_agrees` says whether the last round agrees (`_compare` has just found out).
    """
    at = None
    last = max(by_round)
    for k in sorted(by_round, reverse=True):
        budget.tick()
        if not (last_agrees if k == last else _agrees(by_round[k])):
            break
        at = max(r.time for r in by_round[k].values())
    return at


def _compare(key: str, rnd: Round, h: CartHistory, sink: AnomalySink) -> bool:
    """Records divergent siblings and divergent contexts among one round's replicas;
    returns whether they all agree."""
    reads = sorted(rnd.values(), key=lambda r: str(r.node))
    t0 = h.timeline.heal_time if h.timeline.heal_time is not None else reads[0].time
    window = (t0, max(r.time for r in reads))
    by_sibs: dict[tuple[str, ...], list[ReplicaRead]] = defaultdict(list)
    by_ctx: dict[str | None, list[ReplicaRead]] = defaultdict(list)
    for r in reads:
        by_sibs[_canonical(r)].append(r)
        by_ctx[r.context].append(r)
    if len(by_sibs) > 1:
        groups = [
            {"nodes": [r.node for r in rs], "puts": sorted(_put_ids(rs[0]))}
            for rs in by_sibs.values()
        ]
        sink.add(
            explain(
                "divergent-siblings",
                key,
                reads,
                h.timeline,
                window,
                round=reads[0].round,
                groups=groups,
            )
        )
    if len(by_ctx) > 1:
        groups = [{"nodes": [r.node for r in rs], "context": c} for c, rs in by_ctx.items()]
        sink.add(
            explain(
                "divergent-context",
                key,
                reads,
                h.timeline,
                window,
                round=reads[0].round,
                groups=groups,
            )
        )
    return len(by_sibs) == 1 and len(by_ctx) == 1


def _put_ids(rr: ReplicaRead) -> list[str]:
    return [str(s.get("put")) if isinstance(s, dict) else json.dumps(s) for s in rr.siblings]


def _stats(
    rounds: dict[str, dict[int, Round]], converge_ns: list[int], heal: int | None, sink: AnomalySink
) -> dict[str, Any]:
    converge_ns.sort()
    ms = [round(t / 1e6, 3) for t in converge_ns]
    return {
        "keys": len(rounds),
        "replica_reads": sum(len(r) for by in rounds.values() for r in by.values()),
        "max_round": max(max(by) for by in rounds.values()),
        "heal_recorded": heal is not None,
        "time_to_converge_ms": ms[-1] if ms else None,
        "time_to_converge_p50_ms": ms[len(ms) // 2] if ms else None,
        "anomaly_counts": dict(sorted(sink.counts.items())),
    }
