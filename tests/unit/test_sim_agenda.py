"""The simulator's agenda (node/sim/agenda.py): items come out by (due ms, insertion order),
and time moves to each item's due time, never back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from node.sim.agenda import SEQ_BITS, Agenda, ClientDeadline

# each step: push an item with this delay (>= 0, or negative: due now), or pop up to an end
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("push"), st.integers(-3, 12_000)),
        st.tuples(st.just("pop"), st.integers(0, 15_000)),
    ),
    max_size=200,
)


@given(STEPS)
def test_items_come_out_by_due_time_then_insertion_order(steps: list[tuple[str, int]]) -> None:
    agenda = Agenda()
    pending: list[tuple[int, int]] = []  # the reference: (due ms, insertion order)
    pushed = 0
    for what, n in steps:
        if what == "push":
            pushed += 1
            pending.append((agenda.now_ms + max(n, 0), pushed))
            agenda.push(n, ClientDeadline(pushed))
            continue
        end_ms = agenda.now_ms + n
        while (item := agenda.pop_due(end_ms)) is not None:
            due = min(pending)
            pending.remove(due)
            assert (agenda.now_ms, item.conn) == due  # type: ignore[union-attr]
        assert not pending or min(pending)[0] > end_ms
        agenda.wait_until(end_ms)
        assert agenda.now_ms == end_ms
    assert sorted(agenda.heap) == sorted(due << SEQ_BITS | seq for due, seq in pending)
    assert len(agenda.items) == len(pending)


def test_a_key_orders_as_its_pair() -> None:
    """The int key is ordered as (due ms, insertion order), across a due ms's boundary."""
    last_of_ms = 5 << SEQ_BITS | (1 << SEQ_BITS) - 1
    first_of_next = 6 << SEQ_BITS | 1
    assert last_of_ms < first_of_next and last_of_ms >> SEQ_BITS == 5
