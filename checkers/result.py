"""The three-valued verdict every checker returns, and how verdicts combine.

`valid` is True, False or "unknown". When results merge, False beats
"unknown", and "unknown" beats True (Jepsen's merge-valid). A checker that
raises is reported as "unknown" with the error recorded, never as a crash.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

Validity = bool | Literal["unknown"]
UNKNOWN: Literal["unknown"] = "unknown"


@dataclass
class Result:
    """A checker's verdict: validity, anomalies (data, not prose) and stats."""

    valid: Validity
    anomalies: list[Any] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "anomalies": self.anomalies, "stats": self.stats}


def merge_valid(values: Iterable[Validity]) -> Validity:
    """Combines verdicts: any False gives False, else any unknown gives unknown, else True."""
    seen_unknown = False
    for v in values:
        if v is False:
            return False
        if v != True:  # noqa: E712 - "unknown" and anything odd count as unknown
            seen_unknown = True
    return UNKNOWN if seen_unknown else True


def run_safely(check: Callable[..., Result], *args: Any, **kwargs: Any) -> Result:
    """Calls a checker; an exception becomes an "unknown" Result carrying the error."""
    try:
        return check(*args, **kwargs)
    except Exception as e:  # noqa: BLE001 - a checker crash must not crash the run
        return Result(
            UNKNOWN,
            stats={"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()},
        )
