"""The fuzz campaign on the sans-I/O node (issue 16): arbitrary messages from arbitrary peers
and clients, on the simulator (no sockets).

Invariants: `Node.handle` never raises (the simulator fails the run on a caught handler
bug), every write acknowledged before the fuzz reads back exactly once, no replica holds
(so no read returns) the same dot twice, and every replica's siblings stay inside its
clock (the precondition of reissuing a dot: issue 16's reproduction 3). Membership
changes are not fuzzed here: the cluster secret gates them (tests/integration/test_auth.py),
and a holder of it may change the membership at will.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node import core, events, versions
from node.protocol import ProtocolError
from node.sim.cluster import SimConfig, Simulator, wire_copy
from tests.support.fuzz import MessageFuzzer, forged_samples

PEERS = ["n1", "n2", "n3", "x", "fz-peer"]


def fuzz_sim(seed: int, count: int) -> tuple[Simulator, list[str]]:
    """A 3-node simulator with 8 acknowledged writes, then `count` fuzzed messages."""
    sim = Simulator(seed, SimConfig(nodes=3, trace=False))
    keys = [f"fz-{i}" for i in range(8)]
    for i, k in enumerate(keys):
        assert sim.put(sim.names[i % 3], k, b"acked-" + k.encode())["t"] == "ok"
    rng = random.Random(seed)
    actors = [sim.nodes[n].actor for n in sim.names]
    fz = MessageFuzzer(rng, keys, forged_samples(actors), admin=False)
    for i in range(count):
        try:
            msg = wire_copy(fz.message())
        except (ProtocolError, ValueError, OverflowError, TypeError):
            continue  # not framable: the frame decoder's side, tested in test_protocol
        node = rng.choice(sim.names)
        if rng.random() < 0.5:
            event: events.Event = events.PeerMessage(rng.choice(PEERS), msg)
        else:
            event = events.ClientRequest(10_000 + i, msg)
        sim._feed(node, event)  # raises HandlerBug on a caught handler bug
        if i % 20 == 0:
            sim.run_for(rng.randint(0, 30))
    sim.run_for(5_000)
    return sim, keys


def check(sim: Simulator, keys: list[str]) -> None:
    for name in sim.names:
        assert not sim.nodes[name].counters.get(core.HANDLER_ERRORS)
        for key in keys:
            obj = sim.local(name, key)
            dots = [s.dot for s in obj.siblings]
            assert len(dots) == len(set(dots)), (name, key, dots)
            # Every sibling stays inside its clock: else a put may reissue its dot.
            assert all(versions.covers(obj.clock, d) for d in dots), (name, key, obj)
    for i, k in enumerate(keys):
        reply = sim.get(sim.names[(i + 1) % 3], k)
        assert reply["t"] == "ok", (k, reply)
        assert reply["siblings"].count(b"acked-" + k.encode()) == 1, (k, reply)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(50, 400))
def test_the_node_survives_arbitrary_messages(seed: int, count: int) -> None:
    sim, keys = fuzz_sim(seed, count)
    check(sim, keys)
