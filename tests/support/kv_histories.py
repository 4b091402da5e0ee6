"""Seeded many-client key-value histories, linearizable or not by construction.

`generate(config, seed)` simulates `clients` clients against one atomic map:
each client runs its operations one after another (so `clients` operations
are in flight at once), and each operation takes effect at a random instant
inside its interval. Applying the operations in the order of those instants
gives every output, so the history is linearizable (that order is a witness).

With `stale=True` one get is spoiled so that no order explains it: the get
`g` on key k and an append `a` to k such that `a` returned before `g` was
called, and every put to k returned before `a` was called or was called after
`g` returned. In every linearization `a` precedes `g` and no put to k falls
between them, so the value `g` reads must contain `a`'s token; it is replaced
by the value with that token removed. Tokens (`x <client> <seq> y`, Porcupine's
kv format) are unique, so that value cannot hold it.

`to_edn(ops)` writes the history in Porcupine's kv file format (read by
`checkers.linearizable.load_history`). Run as a script to (re)write the
corpus under tests/corpora/sibyl (see its README and MANIFEST.tsv):

    .venv/bin/python -m tests.support.kv_histories tests/corpora/sibyl
"""

from __future__ import annotations

import enum
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from checkers.linearizable import Operation


class Points(enum.Enum):
    """Where in its interval an operation takes effect."""

    EARLY = "early"
    """Soon after its call, as a server applying requests in arrival order (a Raft log)."""
    UNIFORM = "uniform"
    """Anywhere: the order of effects is far from the order of calls (much harder)."""


@dataclass(frozen=True)
class KvConfig:
    clients: int = 50
    ops_per_client: int = 40
    keys: int = 10
    put_p: float = 0.05
    get_p: float = 0.45
    stale: bool = False
    points: Points = Points.EARLY


@dataclass
class _Op:
    client: int
    f: str
    key: str
    value: str | None
    call: int
    ret: int
    point: float
    output: str | None = None


def _schedule(config: KvConfig, rnd: random.Random) -> list[_Op]:
    """Every client's operations, back to back, each with its linearization point."""
    ops: list[_Op] = []
    for c in range(config.clients):
        t = rnd.randrange(0, 50)
        for seq in range(config.ops_per_client):
            call = t + rnd.randrange(1, 10)
            if config.points is Points.EARLY:
                point = call + rnd.randrange(0, 10) + rnd.random()
                ret = int(point) + rnd.randrange(1, 50)
            else:
                ret = call + rnd.randrange(5, 60)
                point = rnd.uniform(call, ret)
            u, get_below = rnd.random(), config.put_p + config.get_p
            f = "put" if u < config.put_p else "get" if u < get_below else "append"
            key = str(rnd.randrange(config.keys))
            value = None if f == "get" else f"x {c} {seq} y"
            ops.append(_Op(c, f, key, value, call, ret, point))
            t = ret
    return ops


def _apply(ops: list[_Op]) -> None:
    """Fills every get's output by applying the ops in the order of their points."""
    state: dict[str, str] = {}
    for op in sorted(ops, key=lambda o: o.point):
        if op.f == "get":
            op.output = state.get(op.key, "")
        elif op.f == "put":
            state[op.key] = str(op.value)
        else:
            state[op.key] = state.get(op.key, "") + str(op.value)


def _spoil(ops: list[_Op], rnd: random.Random) -> bool:
    """Removes from one get's value an append it must have seen; False if none fits."""
    gets = [g for g in ops if g.f == "get"]
    rnd.shuffle(gets)
    for g in gets:
        same = [o for o in ops if o.key == g.key and o is not g]
        puts = [p for p in same if p.f == "put"]
        for a in same:
            if a.f != "append" or not a.ret < g.call or str(a.value) not in str(g.output):
                continue
            if all(p.ret < a.call or p.call > g.ret for p in puts):
                g.output = str(g.output).replace(str(a.value), "", 1)
                return True
    return False


def generate(config: KvConfig, seed: int) -> list[Operation]:
    """A history of `config.clients` clients; linearizable unless `config.stale`.

    Raises ValueError if `stale` is asked and no get can be spoiled (tiny histories).
    """
    rnd = random.Random(seed)
    ops = _schedule(config, rnd)
    _apply(ops)
    if config.stale and not _spoil(ops, rnd):
        raise ValueError(f"seed {seed}: no get can be made stale in this history")
    return [
        Operation(o.client, (o.f, o.key, o.value), o.call, o.output, o.ret)
        for o in sorted(ops, key=lambda o: o.call)
    ]


def _edn_str(v: str | None) -> str:
    return "nil" if v is None else '"' + v + '"'


def to_edn(ops: list[Operation]) -> str:
    """Porcupine's kv text format: one invoke and one ok line per op, in time order."""
    events = []
    for op in ops:
        f, key, value = op.input
        head = f"{{:process {op.client_id}, :type "
        tail = f", :f :{f}, :key {_edn_str(key)}, :value "
        events.append((op.call, 0, head + ":invoke" + tail + _edn_str(value) + "}"))
        out = op.output if f == "get" else value
        events.append((op.return_, 1, head + ":ok" + tail + _edn_str(out) + "}"))
    return "".join(line + "\n" for _, _, line in sorted(events))


CORPUS: list[tuple[str, KvConfig, int]] = [
    ("data/kv-c50-ok-1.edn", KvConfig(), 1),
    ("data/kv-c50-ok-2.edn", KvConfig(ops_per_client=60), 2),
    ("data/kv-c50-bad-1.edn", KvConfig(stale=True), 1),
    ("data/kv-c50-bad-2.edn", KvConfig(ops_per_client=60, stale=True), 2),
    ("data/kv-c50-ok-uniform.edn", KvConfig(points=Points.UNIFORM), 4),
    (
        "data/kv-c50-bad-uniform.edn",
        KvConfig(ops_per_client=20, keys=3, stale=True, points=Points.UNIFORM),
        3,
    ),
]
"""The shipped histories: file, configuration, seed."""


MANIFEST_COLUMNS = ("path", "model", "ops", "clients", "keys", "points", "seed",
                    "expected_verdict", "how_known", "stress", "porcupine_seconds")  # fmt: skip

_HOW = {
    False: "by construction: applying the ops in the order of their effect points "
    "gives every output (tests/support/kv_histories.py)",
    True: "by construction: one get misses an append that returned before the get "
    "was called, with no put to the key between (tests/support/kv_histories.py)",
}


def _stress(config: KvConfig) -> str:
    """ "yes" for histories too slow for the test suite (the benchmark decides them)."""
    return "yes" if config.points is Points.UNIFORM or config.ops_per_client > 40 else "no"


def write_corpus(root: Path) -> None:
    """Writes every CORPUS history under `root`, and its MANIFEST.tsv (two models each)."""
    rows = ["\t".join(MANIFEST_COLUMNS)]
    for path, config, seed in CORPUS:
        out = root / path
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(to_edn(generate(config, seed)), encoding="utf-8")
        verdict = "not-linearizable" if config.stale else "linearizable"
        for model in ("kv-partitioned", "kv-nopartition"):
            row = (path, model, config.clients * config.ops_per_client, config.clients,
                   config.keys, config.points.value, seed, verdict, _HOW[config.stale],
                   _stress(config), "")  # fmt: skip
            rows.append("\t".join(map(str, row)))
    (root / "MANIFEST.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1]))
