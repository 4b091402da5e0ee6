"""Liveness after quiescence: every fault healed, does the cluster settle back?

Reads the `status` checker ops the harness records after quiescence (several
rounds, some time apart; harness/status_rounds.py): per node, its down set,
hint queues, anti-entropy counters, membership and ring digest, and per key its
local clock size and sibling count. Checks, at the last round:

* no node considers a live peer down (live: it answered the last round);
* every hint queue has drained, and no node has had requests in flight in every
  round (a request that waits forever: a leak);
* anti-entropy has stopped sending objects (`ae_keys_sent` did not grow between
  the last two rounds: the replicas are equal, so there is nothing to send);
* every node has the same membership and ring view;
* each key's clock has at most `max_clock_entries` entries and at most
  `max_siblings` siblings on every node;
* every membership change (join, leave, replace fault) ended with every ring
  view agreeing (the nemesis records "MembershipError" when they did not, and
  heal notes when the initial membership could not be restored).

Each failure is an anomaly naming the node, the counter and its values over
time ([[ms since the test began, value], ...] for every round). Without
status ops the verdict is unknown.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from checkers.history import CHECKER, Op
from checkers.result import UNKNOWN, Result

STATUS = "status"
Series = list[list[Any]]  # [[time_ms, value], ...]


def check(history: Sequence[Op], max_clock_entries: int = 32, max_siblings: int = 64) -> Result:
    """The liveness verdict of a history with status rounds (see the module doc)."""
    snaps = _snapshots(history)
    if not snaps:
        return Result(UNKNOWN, stats={"reason": "no status ops after quiescence"})
    last = max(r for per_node in snaps.values() for r in per_node)
    live = sorted(n for n, per in snaps.items() if "status" in per.get(last, {}))
    anomalies: list[dict[str, Any]] = []
    for node in live:
        series = _series(snaps[node])
        anomalies += _down(node, series, live)
        anomalies += _hints(node, series)
        anomalies += _in_flight(node, series)
        anomalies += _antientropy(node, series)
        anomalies += _sizes(node, series, max_clock_entries, max_siblings)
    anomalies += _views(snaps, live, last)
    anomalies += _membership(history)
    stats = {"rounds": last, "live_nodes": live, "dead_nodes": sorted(set(snaps) - set(live)),
             "max_clock_entries": max_clock_entries, "max_siblings": max_siblings}  # fmt: skip
    return Result(not anomalies, anomalies, stats)


def _snapshots(history: Sequence[Op]) -> dict[str, dict[int, dict[str, Any]]]:
    """node -> round -> {"time_ms", "status" or "error"}."""
    out: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for op in history:
        if op.process != CHECKER or op.f != STATUS or op.node is None:
            continue
        rnd = op.extra.get("round")
        if not isinstance(rnd, int):
            continue
        entry: dict[str, Any] = {"time_ms": op.time // 1_000_000}
        if isinstance(op.extra.get("status"), dict):
            entry["status"] = op.extra["status"]
        else:
            entry["error"] = op.extra.get("error", "no status")
        out[op.node][rnd] = entry
    return dict(out)


def _series(per_round: dict[int, dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    return [(e["time_ms"], e["status"]) for _, e in sorted(per_round.items()) if "status" in e]


def _over_time(series: list[tuple[int, dict[str, Any]]], get: Callable[[Any], Any]) -> Series:
    return [[t, get(s)] for t, s in series]


def _anomaly(kind: str, node: str, counter: str, values: Series, **more: Any) -> dict[str, Any]:
    return {"kind": kind, "node": node, "counter": counter, "values": values, **more}


def _down(node: str, series: list[tuple[int, dict[str, Any]]], live: list[str]) -> list[Any]:
    wrongly = sorted(set(series[-1][1].get("down", [])) & set(live))
    return [_anomaly("live-peer-down", node, f"down[{peer}]",
                     [[t, peer in s.get("down", [])] for t, s in series], peer=peer)
            for peer in wrongly]  # fmt: skip


def _hints(node: str, series: list[tuple[int, dict[str, Any]]]) -> list[Any]:
    held = series[-1][1].get("hints", {})
    return [_anomaly("hints-not-drained", node, f"hints[{target}]",
                     [[t, s.get("hints", {}).get(target, 0)] for t, s in series],
                     target=target)
            for target, count in sorted(held.items()) if count]  # fmt: skip


def _in_flight(node: str, series: list[tuple[int, dict[str, Any]]]) -> list[Any]:
    values = [[t, s.get("in_flight", 0)] for t, s in series]
    if len(values) >= 2 and min(v for _, v in values) > 0:
        return [_anomaly("requests-stuck", node, "in_flight", values)]
    return []


def _antientropy(node: str, series: list[tuple[int, dict[str, Any]]]) -> list[Any]:
    if len(series) < 2:
        return []
    sent = _over_time(series, lambda s: s.get("counters", {}).get("ae_keys_sent", 0))
    if sent[-1][1] > sent[-2][1]:
        return [_anomaly("antientropy-still-sending", node, "ae_keys_sent", sent)]
    return []


def _sizes(
    node: str, series: list[tuple[int, dict[str, Any]]], max_clock: int, max_sibs: int
) -> list[Any]:
    out = []
    for key, (clock, sibs) in sorted(series[-1][1].get("keys", {}).items()):
        for what, value, bound, index in (("clock_entries", clock, max_clock, 0),
                                          ("siblings", sibs, max_sibs, 1)):  # fmt: skip
            if value > bound:
                values = [[t, s.get("keys", {}).get(key, [0, 0])[index]] for t, s in series]
                out.append(_anomaly(f"{what}-over-bound", node, f"{what}[{key}]", values,
                                    key=key, bound=bound))  # fmt: skip
    return out


MEMBERSHIP_KINDS = ("join", "leave", "replace")


def _membership(history: Sequence[Op]) -> list[Any]:
    """Membership changes the nemesis saw fail to converge, and heal notes."""
    out = []
    for op in history:
        if not op.is_nemesis or not isinstance(op.value, dict):
            continue
        v = op.value
        error = str(v.get("error", ""))
        if v.get("kind") in MEMBERSHIP_KINDS and error.startswith("MembershipError"):
            at = [[op.time // 1_000_000, error]]
            out += [_anomaly("ring-views-did-not-agree", node, "members", at, fault=v.get("id"))
                    for node in v.get("targets", [])]  # fmt: skip
        for note in v.get("notes", []) if op.f == "heal" else []:
            out.append(_anomaly("membership-not-restored", "", "members",
                                [[op.time // 1_000_000, note]]))  # fmt: skip
    return out


def _views(snaps: dict[str, dict[int, dict[str, Any]]], live: list[str], last: int) -> list[Any]:
    """Every live node must report the same members and ring at the last round."""
    views = {n: (tuple(snaps[n][last]["status"].get("members", [])),
                 snaps[n][last]["status"].get("ring")) for n in live}  # fmt: skip
    if len(set(views.values())) <= 1:
        return []
    majority = max(set(views.values()), key=list(views.values()).count)
    return [_anomaly("ring-views-differ", n, "ring",
                     [[e["time_ms"], e["status"].get("members")]
                      for _, e in sorted(snaps[n].items()) if "status" in e],
                     expected_members=list(majority[0]))
            for n in live if views[n] != majority]  # fmt: skip
