"""Planted bug: the membership history keeps one change per Lamport time (seq).

Two nodes admitted at the same moment by different seeds get the same seq,
so whichever gossip arrives second overwrites the other: one of them drops
out of every ring, although its seed told it that it had joined. Only
membership changes expose it (a join of two nodes through different seeds at
once); tests/quality/test_planted_fault_classes.py.
"""

from node import membership, membership_history

_merge = membership_history.merge


def _one_per_seq(history, events):  # type: ignore[no-untyped-def]
    out = _merge(history, events)
    by_seq: dict[int, object] = {}
    for key, e in sorted(out.items(), key=lambda kv: kv[1].name):
        if e.version == 1 and e.kind is membership_history.Kind.JOIN:
            if e.seq in by_seq:
                continue
            by_seq[e.seq] = key
    keep = set(by_seq.values())
    return {
        k: e
        for k, e in out.items()
        if e.version != 1 or e.kind is not membership_history.Kind.JOIN or k in keep
    }


membership_history.merge = _one_per_seq
membership.merge = _one_per_seq
