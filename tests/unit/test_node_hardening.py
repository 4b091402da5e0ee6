"""Node hardening: the dispatch boundary never lets an exception out, and wrong fields are
refused before any state changes (issue 16, reproduction 2)."""

from __future__ import annotations

from typing import Any, NoReturn

import pytest

from node import core, events, versions
from node.dispatch import MALFORMED_PEER, Dispatcher
from node.messages import PEER_MESSAGES, Ping, Status, Sync
from node.sim.cluster import HandlerBug, SimConfig, Simulator, wire_copy
from node.versions import Dot, Sibling, Versioned

NOW = events.Now(1_700_000_000_000, 1.0)


def broken(*args: Any) -> NoReturn:
    raise KeyError("planted")


def test_a_handler_bug_is_caught_logged_with_its_type_and_counted_in_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Dispatcher, "client_ping", broken)
    sim = Simulator(1, SimConfig(nodes=3, trace=False))
    node = sim.nodes["n1"]
    out = node.handle(events.ClientRequest(7, Ping(1).wire()), NOW)
    logs = [e.message for e in out if isinstance(e, events.Log)]
    assert len(logs) == 1 and "'ping'" in logs[0] and "KeyError" in logs[0], logs
    status = node.handle(events.ClientRequest(7, Status(2).wire()), NOW)
    (reply,) = [e for e in status if isinstance(e, events.Reply)]
    assert reply.msg["counters"][core.HANDLER_ERRORS] == 1


def test_the_simulator_fails_its_run_on_a_caught_handler_bug(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Dispatcher, "client_ping", broken)
    sim = Simulator(2, SimConfig(nodes=3, trace=False))
    sim.request("n2", Ping().wire())
    with pytest.raises(HandlerBug, match="n2 caught a handler bug.*'ping'"):
        sim.run_for(100)


@pytest.mark.parametrize("bad_id", [{}, [], {"a": [1]}, 1.5, "x", True, b"id"])
def test_peer_messages_with_ids_of_any_type_are_dropped_and_counted(bad_id: Any) -> None:
    sim = Simulator(3, SimConfig(nodes=3, trace=False))
    node = sim.nodes["n1"]
    for t in sorted(PEER_MESSAGES):
        msg = wire_copy({"t": t, "id": bad_id, "key": "k", "obj": b"", "history": [],
                         "addrs": {}})  # fmt: skip
        node.handle(events.PeerMessage("n2", msg), NOW)
    assert not node.counters.get(core.HANDLER_ERRORS)
    assert node.counters[MALFORMED_PEER] >= 1


def dots(sim: Simulator, name: str, key: str) -> list[tuple[str, int]]:
    return [(s.dot.actor, s.dot.counter) for s in sim.local(name, key).siblings]


@pytest.mark.parametrize("forged_siblings", ["outside the clock", "sharing a dot"])
def test_a_foreign_object_cannot_make_a_coordinator_reissue_a_dot(forged_siblings: str) -> None:
    """Reproduction 3: a sync whose sibling is outside its clock made the next put reuse that
    dot, so the object held one dot twice and the acknowledged put read back lost."""
    sim = Simulator(4, SimConfig(nodes=3, trace=False))
    key = "fz-1"
    coordinator = sim.primaries(key)[0]
    assert sim.put(coordinator, key, b"v1")["t"] == "ok"
    actor = sim.nodes[coordinator].actor
    if forged_siblings == "outside the clock":
        forged = Versioned({}, (Sibling(Dot(actor, 2), b"forged", 1),))
    else:
        twice = Sibling(Dot("fz.0.1", 1), b"forged", 1)
        forged = Versioned({"fz.0.1": (1, 1)}, (twice, twice))
    node = sim.nodes[coordinator]
    node.handle(events.PeerMessage("x", wire_copy(Sync(0, key, versions.encode(forged)).wire())),
                sim.now(coordinator))  # fmt: skip
    assert node.counters[MALFORMED_PEER] == 1
    assert sim.put(coordinator, key, b"v2")["t"] == "ok"
    sim.run_for(1000)
    for name in sim.names:
        assert len(set(dots(sim, name, key))) == len(dots(sim, name, key)), dots(sim, name, key)
    reply = sim.get(coordinator, key)
    assert sorted(reply["siblings"]) == [b"v1", b"v2"], reply


BAD_CLIENT_FIELDS = [
    ({"t": "get", "key": 5}, "'key'"),
    ({"t": "get", "key": "k" * 1025}, "key is 1025 bytes"),
    ({"t": "get", "key": "k", "id": {"a": 1}}, "'id'"),
    ({"t": "get", "key": "k", "id": "x" * 300}, "'id'"),
    ({"t": "put", "key": "k", "value": "text"}, "'value'"),
    ({"t": "put", "key": "k", "value": b"v", "context": b"\x01junk"}, "'context'"),
    ({"t": "preference_lists", "keys": ["k" * 2000]}, "a key in 'keys'"),
    ({"t": "preference_lists", "keys": "k"}, "'keys'"),
    ({"t": "join", "node": 5}, "'node'"),
    ({"t": "join", "node": "n9", "weight": True}, "'weight'"),
    ({"t": "join", "node": "n9", "weight": 10**6}, "'weight'"),
    ({"t": "leave"}, "'node'"),
    ({"t": "leave", "node": ""}, "'node'"),
    ({"t": "leave", "node": ["n1"]}, "'node'"),
    ({"t": "nonsense"}, "unknown request type"),
]


@pytest.mark.parametrize(("msg", "words"), BAD_CLIENT_FIELDS)
def test_a_client_field_that_is_wrong_is_answered_bad_request_naming_it(
    msg: dict[str, Any], words: str
) -> None:
    sim = Simulator(7, SimConfig(nodes=3, trace=False))
    node = sim.nodes["n1"]
    before = sim.disks["n1"].meta_get("membership")
    out = node.handle(events.ClientRequest(3, wire_copy(msg)), NOW)
    (reply,) = [e.msg for e in out if isinstance(e, events.Reply)]
    assert reply["t"] == "error" and reply["code"] in ("bad_request", "too_large"), reply
    assert words in reply["message"], reply
    assert reply["id"] in (None, msg.get("id")) and not isinstance(reply["id"], dict)
    assert not [e for e in out if not isinstance(e, (events.Reply, events.Log))]  # no state
    assert sim.disks["n1"].meta_get("membership") == before


BAD_PEER_FIELDS = [
    {"t": "read", "id": -1, "key": "k"},
    {"t": "read", "id": 1, "key": "k" * 1025},
    {"t": "read", "id": 1, "key": "k", "hint": ""},
    {"t": "sync", "id": 1, "key": "k", "obj": "not bytes"},
    {"t": "sync", "id": 1.5, "key": "k", "obj": b""},
    {"t": "gossip_ack", "id": 1, "history": [], "addrs": {}, "join": "maybe"},
    {"t": "join_req", "id": 1, "history": [], "addrs": {}, "weight": 0},
    {"t": "join_req", "id": 1, "history": [], "addrs": {}, "rejoin": "yes"},
    {"t": "gossip", "id": 1, "history": {}, "addrs": {}},
    {"t": "no_such_type"},
]


@pytest.mark.parametrize("msg", BAD_PEER_FIELDS)
def test_a_peer_message_with_a_wrong_field_is_dropped_and_counted(msg: dict[str, Any]) -> None:
    sim = Simulator(8, SimConfig(nodes=3, trace=False))
    node = sim.nodes["n1"]
    out = node.handle(events.PeerMessage("n2", wire_copy(msg)), NOW)
    assert [type(e) for e in out] == [events.Log], out  # nothing sent, stored or armed
    assert node.counters[MALFORMED_PEER] == 1
