"""The report's parts on hand-built histories: fault words, prose panels, true counts,
JUnit for each verdict, timeline sampling, sweep matrices and missing nightly runs."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from checkers import lost_adds
from checkers.history import NEMESIS, Op, OpType
from checkers.result import UNKNOWN, Result
from checkers.synthetic import HistoryBuilder
from harness import runindex, site
from harness.bands import fault_bands, partition_sides
from harness.findings import groups, headline
from harness.junit import junit_xml
from harness.report import results_doc
from harness.rundata import RunData
from harness.sweep import SweepError, load, parse_shard, shard
from harness.timeline import MAX_DRAWN, process_timeline
from tests.support.artifacts import JUNIT_XSD

HALVES = [(x[:2], x[2:]) for x in ("n1n2", "n1n5", "n2n3", "n2n4", "n3n5", "n4n5")]
HALVES += [(b, a) for a, b in HALVES]


def test_partition_words_say_which_side_was_cut_off() -> None:
    assert partition_sides(HALVES) == "n2, n5 cut off from n1, n3, n4"
    one = [(a, b) for a in ("n3",) for b in ("n1", "n2", "n4")] + [
        (b, "n3") for b in ("n1", "n2", "n4")
    ]
    assert partition_sides(one) == "n3 cut off from n1, n2, n4"
    bridge = [("n1", "n3"), ("n3", "n1")]
    assert partition_sides(bridge) == "n1 cut off from n3"
    ring = [("n1", "n2"), ("n2", "n1"), ("n2", "n3"), ("n3", "n2"), ("n1", "n4"), ("n4", "n1")]
    assert partition_sides(ring) == (
        "n1 cannot reach n2, n4; n2 cannot reach n1, n3; n3 cannot reach n2; n4 cannot reach n1"
    )


def _lost_history() -> list[Op]:
    """Item 7 acknowledged, seen, then overwritten by a put that never saw it (clock fault)."""
    b = HistoryBuilder()
    b.emit(NEMESIS, OpType.INFO, "start", value={
        "id": 1, "kind": "clock", "targets": ["n4"], "params": {"op": "bump", "delta_s": 11},
        "skew_s": {"n4": 11.0}})  # fmt: skip
    b.add(0, "cart-1", 7, "p0-1")
    b.read(1, "cart-1", [("p0-1", [7])])
    b.invoke(2, "add", "cart-1", 8)
    b.complete_write(2, "add", "cart-1", 8, "p2-2", [], node="n4")
    b.read(1, "cart-1", [("p2-2", [8])], node="n4")
    b.emit(NEMESIS, OpType.INFO, "stop", value={"id": 1, "kind": "clock", "targets": ["n4"]})
    b.heal()
    for node in ("n1", "n2"):
        b.read(10, "cart-1", [("p2-2", [8])], final=True, node=node)
    return b.ops


def _run(history: list[Op], results: dict[str, Result]) -> RunData:
    doc = results_doc(results, {"test": "t", "seed": 1, "command": "sibyl run"})
    return RunData.build(doc, history)


def test_lost_add_panel_tells_the_story_with_ops_and_faults() -> None:
    h = _lost_history()
    run = _run(h, {"lost_adds": lost_adds.check(h)})
    (group,) = groups(run)
    (p,) = group.panels
    text = " ".join(p.sentences)
    assert "Item 7 was added to cart-1" in text and "acknowledged by op 2" in text
    assert "last read that saw it was op 4" in text and "first read without it was op 8" in text
    assert "put p2-2" in text and "covering no earlier put" in text
    assert "n4's clock 11 s ahead" in text
    assert group.cause == "clock: n4's clock 11 s ahead"
    line = headline("lost_adds", run.doc["checkers"]["lost_adds"], run)
    assert line == ("lost_adds: 1 of 2 acknowledged adds were lost; every one of them spans a "
                    "time when n4's clock ran 11 s ahead.")  # fmt: skip


def test_counts_are_the_checkers_totals_not_the_stored_list() -> None:
    h = _lost_history()
    capped = Result(False, lost_adds.check(h).anomalies, {"anomaly_counts": {"lost": 1271}})
    run = _run(h, {"lost_adds": capped})
    assert "1,271 of" in headline("lost_adds", run.doc["checkers"]["lost_adds"], run)
    xml = junit_xml(run).decode()
    assert 'message="1,271 anomalies (lost: 1,271)"' in xml


def test_junit_unknown_is_an_error_and_validates() -> None:
    import xmlschema

    h = _lost_history()
    run = _run(h, {"a": Result(True), "b": Result(UNKNOWN, stats={"error": "budget spent"})})
    xml = junit_xml(run)
    xmlschema.XMLSchema(str(JUNIT_XSD)).validate(xml.decode())
    text = xml.decode()
    assert "<skipped" not in text and 'type="unknown"' in text and "budget spent" in text
    assert 'errors="1"' in text and 'failures="0"' in text and 'tests="2"' in text


def test_timeline_samples_for_drawing_but_draws_every_named_op() -> None:
    b = HistoryBuilder(step_ns=100_000)
    for k in range(MAX_DRAWN * 2):
        b.read(k % 10, "cart-0", [("p", [1])])
    named = 2 * 7777 + 1 - 1  # an invoke that a stride of 2 alone would skip
    run = RunData.build({}, b.ops)
    svg = process_timeline(run, {named + 2})
    drawn = svg.count("data-op=")
    assert drawn <= MAX_DRAWN + 1 and f'data-op="{named + 2}"' in svg
    assert "sampled for drawing" in svg and f"of {MAX_DRAWN * 2:,} ops" in svg


def test_fault_bands_end_at_the_heal() -> None:
    b = HistoryBuilder()
    b.fault("start", 1, "kill", ["n3"])
    b.wait(5)
    b.heal()
    (band,) = fault_bands(b.ops)
    assert band.end == b.ops[-1].time and band.during == "n3 was down (killed)"


def test_sweep_shards_split_the_matrix_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tmp_path / "n.toml"
    cfg.write_text('[matrix]\nworkloads = ["cart", "register"]\nnemeses = ["none", "clock"]\n'
                   "seeds = 3\n[options]\ntime_limit = 5\n")  # fmt: skip
    sweep = load(cfg)
    assert len(sweep.cells) == 12 and sweep.name == "n"
    parts = [shard(sweep.cells, i, 5) for i in range(5)]
    assert sorted(c.key for p in parts for c in p) == sorted(c.key for c in sweep.cells)
    assert parse_shard("2/5", None) == (2, 5) and parse_shard("4", "3") == (3, 4)
    for bad in ("5/5", "x", "4"):
        with pytest.raises(SweepError):
            parse_shard(bad, None)
    cfg.write_text("[matrix]\nworkload = ['cart']\n")
    with pytest.raises(SweepError, match="unknown field"):
        load(cfg)


def test_missing_nightly_runs_are_listed(tmp_path: Path) -> None:
    key = "cart/none/sloppy/siblings/5n"
    cells = [runindex.Cell("nightly-2026-01-02", f"cart/none/seed{s}", key, s, "2026-01-02")
             for s in (1, 2)]  # fmt: skip
    runindex.expect(tmp_path, cells)
    db = sqlite3.connect(tmp_path / runindex.INDEX)
    try:
        gone = site.missing(db, today=dt.date(2026, 1, 5))
    finally:
        db.close()
    assert sum("was expected but did not run" in m for m in gone) == 2
    assert "2026-01-03: no nightly sweep ran" in gone and "2026-01-04: no nightly sweep ran" in gone


def test_bad_input_to_the_new_commands_exits_254(tmp_path: Path) -> None:
    from harness.cli import main

    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    assert main(["sweep", str(tmp_path / "missing.toml")]) == 254
    assert main(["sweep", str(bad)]) == 254
    assert main(["report", str(tmp_path)]) == 254
    assert main(["index", "--store", str(tmp_path), "--merge", str(tmp_path / "none")]) == 254


def test_every_group_gets_a_panel_in_full_before_a_large_group_gets_more() -> None:
    """A small group's cause (a lost add under one fault, say) is never left to one-line
    links because a larger group came first: its first panel is drawn in full."""
    from harness.findings import FULL_PANELS, Group
    from harness.page import full_panels

    def group(size: int) -> Group:
        return Group("kind", f"cause {size}", [object()] * size)  # type: ignore[list-item]

    full = full_panels([group(30), group(2), group(1)])
    assert len(full) == FULL_PANELS and {1, 31, 33} <= full and 32 not in full
    assert full_panels([group(5), group(3)]) == set(range(1, 9))
    assert full_panels([group(1)] * 25) == set(range(1, FULL_PANELS + 1))
