"""Planted bug: the actor id ignores the data directory's incarnation and the boot count.

A node whose data is wiped then reissues dots it used before, and replicas
mistake its new writes for ones they already have: acknowledged writes vanish.
Caught by tests.support.scenarios.amnesia.
"""

from node import core


def _fixed_actor(storage: object, name: str, fresh_incarnation: int) -> str:
    return name


core.boot_actor = _fixed_actor  # type: ignore[assignment]
