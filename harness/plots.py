"""Plain-SVG plots for the report: latency over time, with the faults shaded.

Each client op is a dot at (invoke time, latency), coloured by how it ended
(ok, fail, info), on a log latency axis; each fault is a shaded band over the
time it was active, so a person can see what the faults did to the clients.
No plotting library: the page must stay self-contained and light.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from checkers.history import Op, OpType, pairs

W, H, LEFT, BOTTOM, TOP, LANE = 1000, 260, 50, 24, 8, 16
COLOURS = {OpType.OK: "#2e7d32", OpType.FAIL: "#c62828", OpType.INFO: "#f9a825"}
BAND = "#90caf9"
MAX_POINTS = 5000


def latency_points(history: Sequence[Op]) -> list[tuple[float, float, OpType]]:
    """(invoke s, latency ms, outcome) for every completed client op, thinned to MAX_POINTS."""
    pts = [
        (inv.time / 1e9, max(0.01, (done.time - inv.time) / 1e6), done.type)
        for inv, done in pairs(op for op in history if isinstance(op.process, int))
        if done is not None
    ]
    step = max(1, math.ceil(len(pts) / MAX_POINTS))
    return pts[::step]


def fault_bands(history: Iterable[Op]) -> list[tuple[float, float, str]]:
    """(start s, end s, label) for every nemesis fault, from when its start began to
    when its stop began (the heal, or the end of the history, if never stopped)."""
    open_: dict[Any, tuple[float, str]] = {}
    out, end = [], 0.0
    for op in history:
        end = max(end, op.time / 1e9)
        if not op.is_nemesis or not isinstance(op.value, Mapping):
            continue
        v = op.value
        at = float(v.get("began", op.time)) / 1e9
        label = " ".join(
            str(x) for x in (v.get("kind"), v.get("shape"), *v.get("targets", ())) if x
        )
        if op.f == "start":
            open_[v.get("id")] = (at, label)
        elif op.f == "stop" and v.get("id") in open_:
            start, label = open_.pop(v.get("id"))
            out.append((start, at, label))
        elif op.f == "heal":
            out.extend((start, at, label) for start, label in open_.values())
            open_.clear()
    out.extend((start, end, label) for start, label in open_.values())
    return sorted(out)


def latency_svg(history: Sequence[Op]) -> str:
    """The latency-over-time plot as one <svg> element ("" for a history without client ops)."""
    pts = latency_points(history)
    if not pts:
        return ""
    t_max = max(max(p[0] for p in pts), *(b[1] for b in fault_bands(history)), 1e-3)
    lo = math.log10(min(p[1] for p in pts))
    hi = math.log10(max(p[1] for p in pts)) + 0.1

    def x(t: float) -> float:
        return LEFT + (W - LEFT - 10) * min(t, t_max) / t_max

    def y(ms: float) -> float:
        return TOP + (H - TOP - BOTTOM) * (1 - (math.log10(ms) - lo) / max(hi - lo, 1e-9))

    bands = fault_bands(history)
    height = H + LANE * len(bands)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
             f'font-size="10" font-family="sans-serif">']  # fmt: skip
    for i, (start, end, label) in enumerate(bands):
        top, width = H + LANE * i, max(2.0, x(end) - x(start))
        text = escape(label)
        parts.append(f'<rect x="{x(start):.1f}" y="{top}" width="{width:.1f}" height="{LANE - 2}" '
                     f'fill="#e8a33d"><title>{text}</title></rect>'
                     f'<text x="{x(start) + 2:.1f}" y="{top + 11}">{text}</text>')  # fmt: skip
    for start, end, label in bands:
        width = max(1.0, x(end) - x(start))
        parts.append(f'<rect x="{x(start):.1f}" y="{TOP}" width="{width:.1f}" '
                     f'height="{H - TOP - BOTTOM}" fill="{BAND}" opacity=".35">'
                     f"<title>{escape(label)}</title></rect>")  # fmt: skip
    for decade in range(math.floor(lo), math.ceil(hi) + 1):
        ms = 10.0**decade
        if lo <= decade <= hi:
            parts.append(f'<text x="4" y="{y(ms) + 3:.1f}">{ms:g} ms</text>')
    for t, ms, kind in pts:
        parts.append(f'<circle cx="{x(t):.1f}" cy="{y(ms):.1f}" r="1.6" fill="{COLOURS[kind]}"/>')
    bottom = H - 6
    parts.append(f'<text x="{LEFT}" y="{bottom}">0 s</text>'
                 f'<text x="{W - 40}" y="{bottom}">{t_max:.0f} s</text>'
                 f'<text x="{W // 2 - 80}" y="{bottom}">latency by invoke time</text>')  # fmt: skip
    parts.append("</svg>")
    return "".join(parts)
