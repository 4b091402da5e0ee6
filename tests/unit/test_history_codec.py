"""The history codec: round trips, and malformed lines name the line."""

import pytest

from checkers.history import HistoryError, Op, OpType, dump_op, pairs, parse_jsonl


def test_round_trip_keeps_every_field() -> None:
    op = Op(3, 10, 1, OpType.OK, "read", key="k", siblings=[["a"]], context="c", node="n1")
    (back,) = parse_jsonl([dump_op(op)])
    assert back == op


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"index": 0, "time": 0, "process": 1, "type": "done", "f": "read"}', "'type'"),
        ('{"index": 0, "time": 0, "type": "ok", "f": "read"}', "missing field 'process'"),
    ],
)
def test_malformed_line_names_line_and_problem(line: str, needle: str) -> None:
    good = dump_op(Op(0, 0, 1, OpType.INVOKE, "read"))
    with pytest.raises(HistoryError) as e:
        list(parse_jsonl([good, "", line], "h.jsonl"))
    assert e.value.line == 3
    assert "h.jsonl:3" in str(e.value)
    assert needle in str(e.value)


def test_pairs_rejects_completion_without_invoke() -> None:
    with pytest.raises(HistoryError, match="no open invoke"):
        list(pairs([Op(0, 0, 1, OpType.OK, "read")]))


def test_pairs_skips_nemesis_and_harness_observations() -> None:
    ops = [
        Op(0, 0, 1, OpType.INVOKE, "read", key="k"),
        Op(1, 1, "nemesis", OpType.INFO, "start", value={}),
        Op(2, 2, "checker", OpType.OK, "replica-read", key="k", node="n1"),
        Op(3, 3, 1, OpType.OK, "read", key="k"),
    ]
    assert [(i.index, c.index if c else None) for i, c in pairs(ops)] == [(0, 3)]


def test_report_plot_places_faults_from_when_they_began() -> None:
    from harness.bands import fault_bands
    from harness.plots import latency_charts
    from harness.rundata import RunData

    fault = {"id": 1, "kind": "partition", "shape": "halves", "targets": ["n1"]}
    ops = [
        Op(0, 0, 1, OpType.INVOKE, "read", key="k"),
        Op(
            1,
            2_000_000_000,
            "nemesis",
            OpType.INFO,
            "start",
            value={**fault, "began": 1_000_000_000},
        ),
        Op(2, 2_500_000_000, 1, OpType.OK, "read", key="k"),
        Op(3, 3_000_000_000, "nemesis", OpType.INFO, "heal", value={"began": 2_800_000_000}),
    ]
    (band,) = fault_bands(ops)
    assert (band.start, band.end, band.kind) == (1_000_000_000, 2_800_000_000, "partition")
    (svg,) = latency_charts(RunData.build({}, ops))
    # Charts span 0..3 s over 1100 - 64 - 16 px from x=64: the band starts at 1.0 s, not 2.0 s.
    assert svg.startswith("<svg") and 'class="band" x="404.0"' in svg and "partition" in svg
