"""What clients do: cart, set, register (each = op generator + client + checkers)."""

# ruff: noqa: E402  (the package path is set before the package's modules are imported)
from __future__ import annotations

from collections.abc import Callable

# first: a current mypyc build of the hot modules (see `native`)
import native

native.activate(__name__, __path__)

from workloads.base import Completion, OpSpec, Workload
from workloads.cart import Cart, SetWorkload
from workloads.register import Register

WORKLOADS: dict[str, Callable[[], Workload]] = {
    "cart": Cart,
    "set": SetWorkload,
    "register": Register,
}

__all__ = ["WORKLOADS", "Cart", "Completion", "OpSpec", "Register", "SetWorkload", "Workload"]
