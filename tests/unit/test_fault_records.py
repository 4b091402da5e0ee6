"""Fault records: JSON round trip, and bad input refused naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.nemesis import PARAMS, Fault, FaultError, FaultKind

GOOD_PARAMS: dict[FaultKind, list[dict[str, Any]]] = {
    FaultKind.PARTITION: [
        {"shape": "halves"},
        {"shape": "one"},
        {"shape": "majorities-ring"},
        {"shape": "bridge"},
        {"shape": "one-way"},
        {"links": [["n1", "n2"]]},
        {"shape": "halves", "mode": "drop"},
        {"shape": "one", "mode": "reset"},
    ],
    FaultKind.KILL: [{}],
    FaultKind.PAUSE: [{}],
    FaultKind.CLOCK: [
        {"delta_s": 5},
        {"op": "bump", "delta_s": -2.5},
        {"op": "strobe", "delta_s": 3, "period_ms": 100},
        {"op": "reset"},
        {"op": "freeze"},
        {"op": "rate", "rate": 0.5},
    ],
    FaultKind.LATENCY: [{"latency_ms": 0}, {"latency_ms": 200, "jitter_ms": 20}],
    FaultKind.BANDWIDTH: [{"rate_kbps": 10, "links": [["client", "n3"]]}],
    FaultKind.CRASH: [{}, {"key": "cart-1", "scope": "all"}],
    FaultKind.WIPE: [{}],
    FaultKind.RESET_PEER: [{}, {"timeout_ms": 100}],
    FaultKind.LIMIT_DATA: [{"bytes": 4096}],
    FaultKind.JOIN: [{}],
    FaultKind.LEAVE: [{}],
    FaultKind.REPLACE: [{}],
}


def faults() -> st.SearchStrategy[Fault]:
    """Valid faults, mildest first: short, early, few targets."""

    def build(kind: FaultKind, params: dict[str, Any], start: int, length: int,
              targets: list[str], id: int) -> Fault:  # fmt: skip
        return Fault(id, kind, start / 10, (start + length) / 10, tuple(targets), params)

    mild_first = [FaultKind.LATENCY, FaultKind.BANDWIDTH, FaultKind.PAUSE, FaultKind.KILL,
                  FaultKind.CLOCK, FaultKind.PARTITION, FaultKind.RESET_PEER,
                  FaultKind.LIMIT_DATA, FaultKind.CRASH, FaultKind.WIPE, FaultKind.JOIN,
                  FaultKind.LEAVE, FaultKind.REPLACE]  # fmt: skip
    assert set(mild_first) == set(FaultKind)
    return st.sampled_from(mild_first).flatmap(
        lambda kind: st.builds(
            build,
            st.just(kind),
            st.sampled_from(GOOD_PARAMS[kind]),
            st.integers(0, 1000),
            st.integers(0, 1000),
            st.lists(st.sampled_from(["n1", "n2", "n3", "n4", "n5"]), max_size=3),
            st.integers(0, 10_000),
        )
    )


@given(faults())
def test_json_round_trip(fault: Fault) -> None:
    text = json.dumps(fault.to_dict())
    back = Fault.from_dict(json.loads(text))
    assert back == fault
    assert back.to_dict() == fault.to_dict()


def test_the_dict_form_is_the_documented_shape() -> None:
    fault = Fault(7, FaultKind.PARTITION, 1.5, 9, ("n1", "n2"), {"shape": "halves"})
    assert fault.to_dict() == {
        "id": 7,
        "kind": "partition",
        "start_s": 1.5,
        "end_s": 9,
        "targets": ["n1", "n2"],
        "params": {"shape": "halves"},
    }


def test_kind_given_as_a_string_becomes_the_enum() -> None:
    fault = Fault(1, "kill", 0, 1)  # type: ignore[arg-type]
    assert fault.kind is FaultKind.KILL


def test_every_kind_has_a_parameter_table() -> None:
    assert set(PARAMS) == set(FaultKind)


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"id": 1, "kind": "meteor", "start_s": 0, "end_s": 1}, "'kind'"),
        ({"id": 1, "kind": "partition", "start_s": 0, "end_s": 1,
          "params": {"shape": "triangle"}}, "'params.shape'"),
        ({"id": 1, "kind": "partition", "start_s": 0, "end_s": 1}, "'params.shape'"),
        ({"id": 1, "kind": "kill", "start_s": 0, "end_s": 1, "params": {"signal": 9}},
         "'params.signal'"),
        ({"id": 1, "kind": "latency", "start_s": 0, "end_s": 1,
          "params": {"latency_ms": -5}}, "'params.latency_ms'"),
        ({"id": 1, "kind": "latency", "start_s": 0, "end_s": 1,
          "params": {"latency_ms": 1.5}}, "'params.latency_ms'"),
        ({"id": 1, "kind": "clock", "start_s": 0, "end_s": 1, "params": {"op": "bump"}},
         "'params.delta_s'"),
        ({"id": 1, "kind": "clock", "start_s": 0, "end_s": 1,
          "params": {"op": "warp", "delta_s": 1}}, "'params.op'"),
        ({"id": 1, "kind": "bandwidth", "start_s": 0, "end_s": 1,
          "params": {"rate_kbps": 1, "links": [["n1"]]}}, "'params.links'"),
        ({"id": 1, "kind": "kill", "start_s": 5, "end_s": 1}, "'end_s'"),
        ({"id": 1, "kind": "kill", "start_s": -1, "end_s": 1}, "'start_s'"),
        ({"id": 1, "kind": "kill", "start_s": "soon", "end_s": 1}, "'start_s'"),
        ({"id": -1, "kind": "kill", "start_s": 0, "end_s": 1}, "'id'"),
        ({"id": True, "kind": "kill", "start_s": 0, "end_s": 1}, "'id'"),
        ({"id": 1, "kind": "kill", "start_s": 0, "end_s": 1, "targets": "n1"}, "'targets'"),
        ({"id": 1, "kind": "kill", "start_s": 0, "end_s": 1, "targets": [1]}, "'targets'"),
        ({"id": 1, "kind": "kill", "start_s": 0, "end_s": 1, "params": []}, "'params'"),
        ({"id": 1, "kind": "kill", "start_s": 0}, "'end_s' is missing"),
        ({"id": 1, "kind": "kill", "start_s": 0, "end_s": 1, "when": 3}, "'when'"),
        ({"id": 1, "kind": "partition", "start_s": 0, "end_s": 1,
          "params": {"shape": "one", "mode": "lossy"}}, "'params.mode'"),
        ({"id": 1, "kind": "clock", "start_s": 0, "end_s": 1, "params": {"op": "rate"}},
         "'params.rate'"),
        ({"id": 1, "kind": "clock", "start_s": 0, "end_s": 1,
          "params": {"op": "rate", "rate": 0}}, "'params.rate'"),
        ({"id": 1, "kind": "crash", "start_s": 0, "end_s": 1,
          "params": {"key": "k", "scope": "most"}}, "'params.scope'"),
        ({"id": 1, "kind": "limit_data", "start_s": 0, "end_s": 1}, "'params.bytes'"),
        ({"id": 1, "kind": "wipe", "start_s": 0, "end_s": 1, "params": {"key": ""}},
         "'params.key'"),
    ],
)  # fmt: skip
def test_bad_records_are_refused_naming_the_field(record: dict[str, Any], field: str) -> None:
    with pytest.raises(FaultError, match=field):
        Fault.from_dict(record)


def test_a_non_object_is_refused() -> None:
    with pytest.raises(FaultError, match="JSON object"):
        Fault.from_dict(["kill"])  # type: ignore[arg-type]


def test_check_names_rejects_unknown_targets_and_links() -> None:
    nodes = ["n1", "n2", "n3"]
    Fault(1, FaultKind.KILL, 0, 1, ("n1",)).check_names(nodes)
    Fault(1, FaultKind.LATENCY, 0, 1, params={"latency_ms": 5, "links": [["client", "n2"]]}
          ).check_names(nodes)  # fmt: skip
    with pytest.raises(FaultError, match=r"'targets'.*\['n9'\]"):
        Fault(1, FaultKind.KILL, 0, 1, ("n1", "n9")).check_names(nodes)
    with pytest.raises(FaultError, match="'params.links'"):
        Fault(1, FaultKind.PARTITION, 0, 1, params={"links": [["n1", "n1"]]}).check_names(nodes)
    with pytest.raises(FaultError, match="'params.links'"):
        Fault(1, FaultKind.PARTITION, 0, 1, params={"links": [["n2", "client"]]}).check_names(nodes)
