"""The answer to "what went wrong, and why?": one sentence per checker, anomalies by cause.

Counts are always the checker's true totals (`stats.anomaly_counts`), never
the length of the stored anomaly list, which checkers cap (100 per kind).
`groups()` turns the stored anomalies into panels grouped by cause (the kind
and the faults active at the moments the anomaly names); `FULL_PANELS` panels
are drawn in full (the first of each group, then the next in order:
`harness.page.full_panels`), the rest as one-line links.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.narrate import Panel, panel
from harness.rundata import RunData

FULL_PANELS = 20


def true_counts(result: Mapping[str, Any]) -> dict[str, int]:
    """Anomalies per kind as the checker counted them (not the capped stored list)."""
    stats = result.get("stats") or {}
    counts = stats.get("anomaly_counts")
    if isinstance(counts, dict) and counts:
        return {str(k): int(v) for k, v in counts.items()}
    out: dict[str, int] = {}
    for a in result.get("anomalies") or []:
        kind = str(a.get("kind") or a.get("type") or "anomaly") if isinstance(a, dict) else "?"
        out[kind] = out.get(kind, 0) + 1
    return out


def total(result: Mapping[str, Any]) -> int:
    return sum(true_counts(result).values())


@dataclass
class Group:
    """Anomalies with one cause: the kind and the faults active when they happened."""

    kind: str
    cause: str
    panels: list[Panel] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return "g-" + "".join(c if c.isalnum() else "-" for c in f"{self.kind}-{self.cause}")[:80]


def groups(run: RunData) -> list[Group]:
    """Every stored anomaly as a panel, grouped by cause, largest group first."""
    by: dict[tuple[str, str], Group] = {}
    for name, r in (run.doc.get("checkers") or {}).items():
        for a in r.get("anomalies") or []:
            if not isinstance(a, dict):
                continue
            p = panel(name, a, run)
            by.setdefault((p.kind, p.cause), Group(p.kind, p.cause)).panels.append(p)
    return sorted(by.values(), key=lambda g: (-len(g.panels), g.kind, g.cause))


def headline(name: str, result: Mapping[str, Any], run: RunData) -> str:
    """One sentence for a checker that is not valid: what failed, how often, under what."""
    if result.get("valid") is True:
        return ""
    stats = result.get("stats") or {}
    if result.get("valid") is not False:
        why = stats.get("reason") or stats.get("error") or "it could not reach a verdict"
        return f"{name} could not decide: {why}."
    counts = true_counts(result)
    parts = [_count_phrase(kind, n, stats) for kind, n in sorted(counts.items())]
    sentence = f"{name}: " + "; ".join(parts or ["the history is invalid"])
    return sentence + _attribution(result, run) + "."


def _count_phrase(kind: str, n: int, stats: Mapping[str, Any]) -> str:
    status = stats.get("status_counts") or {}
    if kind == "lost":
        acked = sum(v for k, v in status.items() if k in ("stable", "stale", "lost"))
        return f"{n:,} of {acked:,} acknowledged adds were lost"
    if kind == "uncovered":
        return (f"{n:,} of {int(stats.get('acknowledged_puts', 0)):,} acknowledged puts are "
                "reflected in no final read")  # fmt: skip
    if kind.startswith("divergent"):
        return f"{n:,} keys still differed between replicas after the heal ({kind})"
    if kind == "not-linearizable":
        return "the register history is not linearizable"
    return f"{n:,} {kind.replace('-', ' ')} anomal{'y' if n == 1 else 'ies'}"


def _attribution(result: Mapping[str, Any], run: RunData) -> str:
    """ "; every one of them spans a time when n4's clock ran 25 s behind" when one fault
    explains all: a fault counts if it was active anywhere from an anomaly's first op to its
    last (the add's acknowledgement to the final read, say), not only at an op's moment."""
    stored = [a for a in result.get("anomalies") or [] if isinstance(a, dict)]
    if not stored:
        return ""
    seen: list[set[str]] = []
    for a in stored:
        times = [op.time for i in a.get("ops") or [] if (op := run.by_index.get(int(i)))]
        if not times:
            return ""
        seen.append({b.during for b in run.faults_at(min(times), max(times))})
    common = set.intersection(*seen)
    n, listed = total(result), len(stored)
    who = "every one of them" if listed == n else f"each of the {listed} listed"
    if common:
        return f"; {who} spans a time when {' and '.join(sorted(common))}"
    if not any(seen):
        return f"; {who} happened with no fault active from its first op to its last"
    tally: dict[str, int] = {}
    for faults in seen:
        for f in faults:
            tally[f] = tally.get(f, 0) + 1
    top = max(tally, key=lambda f: tally[f])
    return f"; {tally[top]} of the {listed} listed span a time when {top}"
