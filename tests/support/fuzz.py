"""Arbitrary wire messages for fuzzing a node: every known type, fields of any type.

`MessageFuzzer(rng, samples)` draws a message map: a known "t" (or a made-up
one), the fields that type's record reads (each present or not, of the right
type or of any other), sometimes extra fields. `samples` are real encoded
objects and contexts the fuzzer may replay (valid bytes reach deeper code than
random ones). Everything comes from the given `random.Random`, so a seed gives
the same messages. Shared by the hypothesis test, the live-cluster test and
benchmarks/fuzz_node.py.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from node import versions
from node.messages import CLIENT_REQUESTS, PEER_MESSAGES
from node.versions import Dot, Sibling, Versioned

FIELDS: dict[str, tuple[str, ...]] = {
    "get": ("id", "key"),
    "put": ("id", "key", "value", "context"),
    "ping": ("id",),
    "local_get": ("id", "key"),
    "status": ("id",),
    "preference_lists": ("id", "keys"),
    "join": ("id", "seed", "node", "addr", "weight"),
    "leave": ("id", "node"),
    "members": ("id",),
    "read": ("id", "key", "hint"),
    "read_ok": ("id", "obj"),
    "sync": ("id", "key", "obj", "hint"),
    "sync_ok": ("id",),
    "fwd_put": ("id", "key", "value", "context"),
    "fwd_reply": ("id", "result"),
    "pong": ("id", "node"),
    "ae_root": ("roots",),
    "ae_buckets": ("parts",),
    "ae_keys": ("ranges",),
    "ae_objects": ("objs", "want"),
    "gossip": ("id", "history", "addrs"),
    "gossip_ack": ("id", "history", "addrs", "join"),
    "join_req": ("id", "history", "addrs", "weight", "rejoin"),
}
TYPES = sorted(set(CLIENT_REQUESTS) | set(PEER_MESSAGES))
ADMIN = ("join", "leave", "join_req")
NAMES = ("n1", "n2", "n3", "x", "", "fz-peer", "127.0.0.1:1")


@dataclass
class MessageFuzzer:
    """Draws arbitrary messages; `keys` and `samples` steer some fields to plausible values."""

    rng: random.Random
    keys: list[str] = field(default_factory=lambda: ["fz-1", "fz-2"])
    samples: list[bytes] = field(default_factory=list)
    admin: bool = True
    """Whether to send membership changes (join, leave, join_req, well-formed histories):
    a holder of the cluster secret may change the membership at will, so a fuzz that
    checks the data survives leaves them out."""

    def message(self) -> dict[str, Any]:
        r = self.rng
        types = TYPES if self.admin else [t for t in TYPES if t not in ADMIN]
        t = r.choice(types) if r.random() < 0.99 else self.scalar()
        fields = FIELDS.get(t, ()) if isinstance(t, str) else ()
        out: dict[str, Any] = {"t": t}
        wild = r.random() < 0.5  # half the messages plausible, to reach past the validation
        for name in fields:
            if name == "hint" and not wild and r.random() < 0.7:
                continue
            if not wild or r.random() < 0.85:
                out[name] = self.value_for(name, wild)
        if r.random() < 0.1:
            out[self.text()] = self.anything(2)
        return out

    def value_for(self, name: str, wild: bool = True) -> Any:
        r = self.rng
        if wild and r.random() < 0.3:
            return self.anything(3)
        if name == "id":
            return r.choice([0, 1, 2, r.randrange(1, 10_000), -1, 2**63])
        if name in ("key",):
            return r.choice(self.keys) if r.random() < 0.7 else self.text()
        if name in ("value",):
            return r.randbytes(r.randrange(0, 32))
        if name in ("obj", "context"):
            if name == "context" and not wild and r.random() < 0.5:
                return b""
            return r.choice(self.samples) if self.samples and r.random() < 0.7 else r.randbytes(8)
        if name in ("hint", "node", "seed"):
            return r.choice(NAMES)
        if name == "addr":
            return r.choice(["127.0.0.1:1", "nohost", "1.2.3.4:99999", ""])
        if name in ("weight",):
            return r.choice([1, 2, 0, -3, 1000])
        if name == "history" and not self.admin:  # malformed (version 0): dropped whole
            return [[1, r.choice(NAMES), 0, "leave", 1]] if r.random() < 0.5 else []
        if name == "history":
            return [[r.randrange(0, 9), r.choice(NAMES), r.randrange(0, 4),
                     r.choice(["join", "leave", "x"]), r.randrange(0, 3)]
                    for _ in range(r.randrange(0, 3))]  # fmt: skip
        if name == "addrs":
            return {r.choice(NAMES): [r.randrange(0, 5), "127.0.0.1:1"]}
        if name == "keys":
            return [self.text() for _ in range(r.randrange(0, 4))]
        return self.anything(3)

    def text(self) -> str:
        r = self.rng
        return "".join(r.choice("ab1-_é\x00z") for _ in range(r.randrange(0, 8)))

    def scalar(self) -> Any:
        r = self.rng
        return r.choice([None, True, False, 0, -1, 2**64 - 1, -(2**63), 1.5, float("nan"),
                         self.text(), r.randbytes(r.randrange(0, 16))])  # fmt: skip

    def anything(self, depth: int) -> Any:
        r = self.rng
        if depth <= 0 or r.random() < 0.6:
            return self.scalar()
        if r.random() < 0.5:
            return [self.anything(depth - 1) for _ in range(r.randrange(0, 4))]
        return {self.scalar_key(): self.anything(depth - 1) for _ in range(r.randrange(0, 4))}

    def scalar_key(self) -> Any:
        r = self.rng
        if r.random() < 0.95:  # a key msgpack is read with (str or bytes), mostly
            return self.text() if r.random() < 0.8 else r.randbytes(2)
        return r.choice([r.randrange(-5, 5), None, True])


def forged_samples(actors: list[str] | None = None) -> list[bytes]:
    """Well-formed objects and a context under a made-up actor: valid bytes that reach deep
    into the node, yet cover no real write (so they can add siblings, never supersede one);
    and, for each of `actors` (real nodes' actor ids), ill-formed objects whose sibling sits
    outside the clock or shares a dot, which a node must refuse."""
    actor = "fz.0.1"
    out = [versions.encode(Versioned({actor: (i, 5)}, (Sibling(Dot(actor, i), b"s%d" % i, 5),)))
           for i in range(1, 4)]  # fmt: skip
    out.append(versions.encode_context({actor: (3, 1)}))
    for real in actors or []:
        for counter in (1, 2, 3):
            outside = Sibling(Dot(real, counter), b"forged", 5)
            out.append(versions.encode(Versioned({}, (outside,))))
        twice = Sibling(Dot(actor, 9), b"twice", 5)
        out.append(versions.encode(Versioned({actor: (9, 5)}, (twice, twice))))
    return out
