"""The report's figures, on the history's time base with the fault bands shaded.

Latency quantiles (p50/p95/p99) per op kind, throughput by result, each node's
clock offset, sibling counts per read, the t-visibility curve and convergence
after the heal. Values are aggregated into at most `WINDOWS` time windows, so
a figure's size does not grow with the history; the checkers always read the
whole history. Each function returns an <svg> string, or "" when the run has
nothing to show (the template then says so in words).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from harness.rundata import RunData
from harness.svg import Chart

WINDOWS = 120
QUANTILES = (("p50", 0.50, "#1565c0"), ("p95", 0.95, "#ef6c00"), ("p99", 0.99, "#c62828"))
RESULT_COLOURS = {"ok": "#2e7d32", "fail": "#c62828", "info": "#f9a825"}
NODE_COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037")


def _window(run: RunData) -> tuple[float, float]:
    """(t_max s, window width s): at most WINDOWS windows, about 20 ops or more in each."""
    t_max = run.end / 1e9
    per_op = t_max / max(len(run.calls), 1)
    return t_max, max(t_max / WINDOWS, 0.05, 20 * per_op)


def latency_charts(run: RunData) -> list[str]:
    """One chart per op kind: latency quantiles per time window, log scale, in ms."""
    t_max, w = _window(run)
    by: dict[str, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for c in run.calls:
        if c.end is not None and c.result != "open" and not str(c.process).startswith("final"):
            by[c.f][int(c.start / 1e9 / w)].append(max(0.01, (c.end - c.start) / 1e6))
    out = []
    for f in sorted(by):
        windows = by[f]
        lo = min(min(v) for v in windows.values())
        hi = max(max(v) for v in windows.values())
        chart = Chart(f"{f}: latency quantiles", t_max, max(lo, 0.01) / 1.2, hi * 1.5, "ms",
                      height=200, log_y=True)  # fmt: skip
        chart.bands(run.bands)
        for name, q, colour in QUANTILES:
            pts = []
            for k in sorted(windows):
                vals = sorted(windows[k])
                pts.append(((k + 0.5) * w, vals[min(len(vals) - 1, int(q * len(vals)))]))
            chart.line(pts, colour, name, max_gap=1.5 * w)
        out.append(chart.render())
    return out


def throughput_chart(run: RunData) -> str:
    """Completed client ops per second, one line per result (ok / fail / info)."""
    t_max, w = _window(run)
    counts: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for c in run.calls:
        if c.end is not None and not str(c.process).startswith("final"):
            counts[c.result][int(c.end / 1e9 / w)] += 1
    if not counts:
        return ""
    n = int(t_max / w) + 1
    peak = max(v for d in counts.values() for v in d.values()) / w
    chart = Chart("throughput by result", t_max, 0, peak * 1.1, "ops/s", height=200)
    chart.bands(run.bands)
    for result in ("ok", "fail", "info"):
        if result in counts:
            pts = [((k + 0.5) * w, counts[result].get(k, 0) / w) for k in range(n)]
            chart.line(pts, RESULT_COLOURS[result], result)
    return chart.render()


def clock_chart(run: RunData, nodes: Sequence[str]) -> str:
    """Each node's wall-clock offset from real time, as the clock nemesis set it (s)."""
    t_max = run.end / 1e9
    steps: dict[str, list[tuple[float, float]]] = {n: [(0.0, 0.0)] for n in nodes}
    strobes = []
    for b in run.bands:
        if b.kind != "clock":
            continue
        if "strobing" in b.summary:
            strobes.append(b.summary)
        for node, skew in b.skew_s.items():
            pts = steps.setdefault(node, [(0.0, 0.0)])
            pts += [(b.start / 1e9, skew), (b.end / 1e9, 0.0)]
    values = [v for pts in steps.values() for _, v in pts]
    lo, hi = min(values + [-1.0]), max(values + [1.0])
    chart = Chart("clock offset per node (what the clock nemesis did)", t_max, lo * 1.15,
                  hi * 1.15, "s off real time", height=200)  # fmt: skip
    chart.bands([b for b in run.bands if b.kind == "clock"])
    for k, node in enumerate(sorted(steps)):
        pts = sorted(steps[node]) + [(t_max, 0.0)]
        chart.line(pts, NODE_COLOURS[k % len(NODE_COLOURS)], node, step=True)
    return chart.render()


def siblings_chart(run: RunData) -> str:
    """Siblings each read returned, over time (dots: up to 3,000 reads; line: the maximum)."""
    t_max, w = _window(run)
    reads = [(c.end / 1e9, c.siblings) for c in run.calls
             if c.siblings is not None and c.end is not None]  # fmt: skip
    if not reads:
        return ""
    peak: dict[int, int] = defaultdict(int)
    for t, n in reads:
        k = int(t / w)
        peak[k] = max(peak[k], n)
    top = max(n for _, n in reads)
    chart = Chart("siblings per read", t_max, 0, max(top, 1) + 0.5, "siblings", height=180)
    chart.bands(run.bands)
    stride = max(1, len(reads) // 3000)
    chart.dots(reads[::stride], "#90a4ae", "each read")
    chart.line([((k + 0.5) * w, v) for k, v in sorted(peak.items())], "#6a1b9a", "max",
               max_gap=1.5 * w)  # fmt: skip
    return chart.render()


def visibility_chart(curve: Sequence[Mapping[str, Any]]) -> str:
    """The t-visibility curve as bars: P(a read t ms after an ack reflects the add)."""
    rows = [r for r in curve if r.get("reads")]
    if not rows:
        return ""
    w, h, left, top, bottom = 1100, 210, 64, 36, 40
    bw = (w - left - 16) / len(rows)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" '
           f'font-size="11" font-family="sans-serif" role="img" aria-label="t-visibility">',
           f'<text x="{left}" y="14" font-weight="bold">t-visibility: probability that a read '
           "starting t ms after an add was acknowledged reflects it</text>"]  # fmt: skip
    for p in (0.0, 0.5, 1.0):
        y = top + (h - top - bottom) * (1 - p)
        out.append(f'<line x1="{left}" x2="{w - 16}" y1="{y}" y2="{y}" stroke="#eee"/>'
                   f'<text x="{left - 4}" y="{y + 4}" text-anchor="end">{p:g}</text>')  # fmt: skip
    for k, r in enumerate(rows):
        lo, hi = r["t_ms"]
        p = float(r.get("p") or 0.0)
        bh = (h - top - bottom) * p
        x = left + k * bw
        label = f"{lo:g}-{hi:g} ms" if hi is not None else f">= {lo:g} ms"
        out.append(f'<rect x="{x + 2:.1f}" y="{h - bottom - bh:.1f}" width="{bw - 4:.1f}" '
                   f'height="{bh:.1f}" fill="#42a5f5"><title>{escape(label)}: p={p:.3f} over '
                   f'{r["reads"]} reads</title></rect><text x="{x + bw / 2:.1f}" '
                   f'y="{h - bottom + 13}"'
                   f' text-anchor="middle">{escape(label)}</text><text x="{x + bw / 2:.1f}" '
                   f'y="{h - bottom - bh - 3:.1f}" text-anchor="middle">{p:.2f}</text>'
                   )  # fmt: skip
    out.append("</svg>")
    return "".join(out)


def convergence_chart(run: RunData) -> str:
    """Keys whose replicas agree, per replica-read round, against time since the last heal."""
    if run.heal is None:
        return ""
    rounds: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    ends: dict[int, int] = defaultdict(int)
    for op in run.history:
        if op.f == "replica-read" and op.time >= run.heal and op.key is not None:
            r = int(op.extra.get("round", 0))
            rounds[r][op.key].add(f"{op.context}|{sorted(map(repr, op.siblings or []))}")
            ends[r] = max(ends[r], op.time)
    if not rounds:
        return ""
    keys = {k for by in rounds.values() for k in by}
    pts = []  # nothing is known before the first round: the line starts there
    for r in sorted(rounds):
        agree = sum(1 for views in rounds[r].values() if len(views) <= 1)
        pts.append(((ends[r] - run.heal) / 1e9, agree / len(keys)))
    t_max = max(pts[-1][0] * 1.05, 0.05)
    first = pts[0][0]
    chart = Chart("convergence: share of keys whose replicas agree, after the last heal",
                  t_max, 0, 1.05, "share of keys", height=180,
                  x_label="seconds since the last heal")  # fmt: skip
    chart.vline(first, f"first round done {first * 1000:.0f} ms after the heal")
    chart.line(pts, "#2e7d32", "replicas agree", step=True)
    chart.dots(pts, "#2e7d32", "replica-read round")
    return chart.render()
