"""Every checker a workload runs keeps the checker contract (checkers/checker.py)."""

from __future__ import annotations

import pytest

from checkers import lost_adds
from checkers.checker import ContractError, check_checker
from checkers.history import Op, OpType
from checkers.result import Result
from checkers.synthetic import HistoryBuilder
from workloads.cart import Cart
from workloads.register import Register


def cart_histories() -> tuple[list[list[Op]], list[Op]]:
    """(ordinary histories, one that loses an acknowledged add)."""
    fine = HistoryBuilder()
    fine.add(1, "k", 7, "p1-1")
    fine.add(2, "k", 8, "p2-1", ["p1-1"])
    fine.read(3, "k", [("p2-1", [7, 8])])
    fine.replica_read("k", "n1", [("p2-1", [7, 8])], "c1")
    fine.read(3, "k", [("p2-1", [7, 8])], final=True)
    lost = HistoryBuilder()
    lost.add(1, "k", 7, "p1-1")
    lost.read(2, "k", [("p1-1", [7])])
    lost.read(2, "k", [], final=True)
    return [fine.ops], lost.ops


def register_histories() -> tuple[list[list[Op]], list[Op]]:
    write = [Op(0, 0, 1, OpType.INVOKE, "write", key="x", value=1),
             Op(1, 1, 1, OpType.OK, "write", key="x", value=1)]  # fmt: skip
    read = [Op(2, 2, 2, OpType.INVOKE, "read", key="x")]
    ok = [*write, *read, Op(3, 3, 2, OpType.OK, "read", key="x", siblings=[1])]
    bad = [*write, *read, Op(3, 3, 2, OpType.OK, "read", key="x", siblings=[2])]
    return [write, ok], bad


CART = Cart().checkers({"time_limit_s": 10.0, "n": 3})
REGISTER = Register().checkers({"time_limit_s": 10.0})


@pytest.mark.parametrize("name", sorted(CART))
def test_every_cart_checker_keeps_the_contract(name: str) -> None:
    fine, lost = cart_histories()
    check_checker(CART[name], fine, [lost] if name == "lost_adds" else [])


@pytest.mark.parametrize("name", sorted(REGISTER))
def test_every_register_checker_keeps_the_contract(name: str) -> None:
    fine, bad = register_histories()
    check_checker(REGISTER[name], fine, [bad])


def test_the_kit_catches_a_checker_that_breaks_the_contract() -> None:
    fine, lost = cart_histories()

    def mutates(h: list[Op]) -> Result:
        h.clear()
        return Result(True)

    def flips(h: list[Op], state: list[int] = [0]) -> Result:  # noqa: B006 - a counter
        state[0] += 1
        return Result(state[0] % 2 == 0)

    for bad, why in [(mutates, "changed the history"), (flips, "different verdict"),
                     (lambda h: Result("maybe"), "valid is"),  # type: ignore[arg-type]
                     (lambda h: lost_adds.check(h[:1]), "judged True")]:  # fmt: skip
        with pytest.raises(ContractError, match=why):
            check_checker(bad, fine, [lost])
