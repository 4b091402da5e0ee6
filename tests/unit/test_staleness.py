"""Empirical PBS metrics (t-visibility, k-staleness) on hand-built histories."""

from checkers import staleness
from checkers.synthetic import HistoryBuilder


def stale_then_fresh() -> HistoryBuilder:
    """An add acknowledged at 2 ms; reads start 2 ms (miss), 4 ms and 20 ms after it."""
    b = HistoryBuilder()
    b.add(1, "k", 7, "p1-1")  # invoke 1 ms, ack 2 ms
    b.wait(1)
    b.read(2, "k", [])  # starts 2 ms after the ack
    b.read(2, "k", [("p1-1", [7])])  # starts 4 ms after
    b.wait(15)
    b.read(2, "k", [("p1-1", [7])])  # starts 21 ms after
    b.read(2, "k", [("p1-1", [7])], final=True)
    return b


def test_t_visibility_curve_and_k_staleness_histogram() -> None:
    r = staleness.check(stale_then_fresh().ops, buckets_ms=(0, 3, 10))
    assert r.valid is True and r.anomalies == []
    curve = {tuple(c["t_ms"]): (c["reads"], c["visible"]) for c in r.stats["t_visibility"]}
    assert curve == {(0.0, 3.0): (1, 0), (3.0, 10.0): (1, 1), (10.0, None): (1, 1)}
    ks = r.stats["k_staleness"]
    assert ks["histogram"] == {"0": 2, "1": 1}
    assert ks["missed_puts"] == 1 and ks["reads"] == 3


def test_final_reads_count_only_when_asked() -> None:
    r = staleness.check(stale_then_fresh().ops, include_final=True)
    assert r.stats["k_staleness"]["reads"] == 4


def test_max_k_turns_a_stale_read_into_an_anomaly() -> None:
    r = staleness.check(stale_then_fresh().ops, max_k=0)
    assert r.valid is False
    assert [a["kind"] for a in r.anomalies] == ["k-stale-read"]
    assert r.anomalies[0]["details"]["missed_items"] == [7]


def test_removed_items_are_not_staleness() -> None:
    b = stale_then_fresh()
    b.remove(1, "k", 7, "p1-2", ["p1-1"])
    r = staleness.check(b.ops)
    assert r.stats["k_staleness"]["missed_puts"] == 0
