"""What clients do: cart, set, register (each = op generator + client + checkers)."""

from __future__ import annotations

from collections.abc import Callable

from workloads.base import Completion, OpSpec, Workload
from workloads.cart import Cart, SetWorkload
from workloads.register import Register

WORKLOADS: dict[str, Callable[[], Workload]] = {
    "cart": Cart,
    "set": SetWorkload,
    "register": Register,
}

__all__ = ["WORKLOADS", "Cart", "Completion", "OpSpec", "Register", "SetWorkload", "Workload"]
