"""The get and put state machines move only along their tables, and end in DONE."""

from __future__ import annotations

import pytest

from node.coordinator import GET_MOVES, PUT_MOVES, GetRequest, GetState, PutRequest, PutState
from node.messages import Get, Put
from node.sim.cluster import SimConfig, Simulator


def test_the_tables_name_every_state_and_done_is_final() -> None:
    assert set(GET_MOVES) == set(GetState) and set(PUT_MOVES) == set(PutState)
    assert GET_MOVES[GetState.DONE] == frozenset() and PUT_MOVES[PutState.DONE] == frozenset()


@pytest.mark.parametrize("quorum", ["sloppy", "strict"])
def test_requests_walk_their_tables_to_done(quorum: str, monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[tuple[str, str, str]] = []
    for cls in (GetRequest, PutRequest):
        original = cls.to

        def to(self, state, original=original):  # type: ignore[no-untyped-def]
            walked.append((type(self).__name__, self.state.name, state.name))
            original(self, state)

        monkeypatch.setattr(cls, "to", to)
    sim = Simulator(6, SimConfig(nodes=3, settings={"quorum": quorum, "r": 2, "w": 2}))
    sim.run_for(1_000)
    assert sim.call("n1", Put("k", b"v").wire())["t"] == "ok"
    assert sim.call("n2", Get("k").wire())["siblings"] == [b"v"]
    sim.run_for(2_000)
    for name in ("GetRequest", "PutRequest"):
        moves = [(a, b) for n, a, b in walked if n == name]
        assert moves and moves[-1][1] == "DONE", (name, moves)
    with pytest.raises(AssertionError, match="illegal move DONE -> READING"):
        req = GetRequest.__new__(GetRequest)
        req.state = GetState.DONE
        GetRequest.to(req, GetState.READING)
