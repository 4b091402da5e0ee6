"""Timelines of client ops (Jepsen's timeline.html) as plain SVG.

`process_timeline` draws every process's ops from invoke to completion,
coloured by result, one lane per run of processes (a process retired after an
`info` hands its lane to the next), with the fault bands above and shaded
behind. Above `MAX_DRAWN` ops it draws a regular sample of each lane, for
drawing only, and always every op in `must_draw` (the ops anomalies name).
`mini_timeline` draws the few ops of one anomaly on their own time scale.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from html import escape

from harness.bands import Band
from harness.rundata import Call, RunData
from harness.svg import BAND_FILL, nice_ticks

MAX_DRAWN = 6000
COLOURS = {"ok": "#66bb6a", "fail": "#ef5350", "info": "#ffca28", "open": "#bdbdbd"}
LANE_H, BAND_H, LEFT = 12, 14, 90


def lanes(calls: Sequence[Call]) -> tuple[list[list[Call]], list[str]]:
    """Assigns each process to the first lane free when its first op starts."""
    first: dict[int | str, list[Call]] = {}
    for c in calls:
        first.setdefault(c.process, []).append(c)
    lane_end: list[int] = []
    out: list[list[Call]] = []
    names: list[list[str]] = []
    for proc, cs in sorted(first.items(), key=lambda kv: (isinstance(kv[0], str), kv[1][0].start)):
        start = cs[0].start
        end = max((c.end or c.start) for c in cs)
        k = next((i for i, e in enumerate(lane_end) if e <= start and not isinstance(proc, str)),
                 None)  # fmt: skip
        if k is None:
            lane_end.append(end)
            out.append(list(cs))
            names.append([str(proc)])
        else:
            lane_end[k] = end
            out[k].extend(cs)
            names[k].append(str(proc))
    labels = [_lane_label(n) for n in names]
    return out, labels


def _lane_label(procs: list[str]) -> str:
    return procs[0] if len(procs) == 1 else f"{procs[0]} +{len(procs) - 1}"


def process_timeline(run: RunData, must_draw: Iterable[int] = ()) -> str:
    """The whole run's ops per lane, with fault bands; `must_draw` invoke indices always drawn."""
    rows, labels = lanes(run.calls)
    if not rows:
        return ""
    keep = set(must_draw)
    total = sum(len(r) for r in rows)
    stride = max(1, -(-total // MAX_DRAWN))
    end = run.end
    t_max = end / 1e9
    width = int(min(20000, max(1100, t_max * 140)))
    top = 30 + BAND_H * len(run.bands)
    height = top + LANE_H * len(rows) + 24

    def x(ns: int) -> float:
        return LEFT + (width - LEFT - 10) * ns / 1e9 / max(t_max, 1e-9)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="{width}" '
           f'height="{height}" font-size="10" font-family="sans-serif">']  # fmt: skip
    out += _band_rows(run.bands, x, top, height)
    drawn = 0
    for k, row in enumerate(rows):
        y = top + LANE_H * k
        out.append(f'<text x="4" y="{y + 9}">{escape(labels[k])}</text>')
        for j, c in enumerate(row):
            named = c.invoke_index in keep or (c.index is not None and c.index in keep)
            if j % stride and not named:
                continue
            drawn += 1
            out.append(_op_rect(c, x, y, named, end))
    for t in nice_ticks(0, t_max, max(4, int(width / 120))):
        out.append(f'<text x="{x(int(t * 1e9)):.1f}" y="{height - 8}" '
                   f'text-anchor="middle">{t:g} s</text>')  # fmt: skip
    note = f"drawn {drawn:,} of {total:,} ops" + (" (sampled for drawing)" if stride > 1 else "")
    out.append(f'<text x="4" y="12" fill="#555">{escape(note)}</text></svg>')
    return "".join(out)


def _band_rows(bands: Sequence[Band], x: object, top: int, height: int) -> list[str]:
    out = []
    for i, b in enumerate(bands):
        x0, x1 = x(b.start), x(b.end)  # type: ignore[operator]
        fill = BAND_FILL.get(b.kind, "#ddd")
        y = 22 + BAND_H * i
        out.append(f'<rect class="band" x="{x0:.1f}" y="{top}" width="{max(1.5, x1 - x0):.1f}" '
                   f'height="{height - top - 20}" fill="{fill}" opacity=".25"/>'
                   f'<rect x="{x0:.1f}" y="{y}" width="{max(1.5, x1 - x0):.1f}" '
                   f'height="{BAND_H - 2}" fill="{fill}"><title>{escape(b.summary)}</title></rect>'
                   f'<text x="{x0 + 2:.1f}" y="{y + 10}">{escape(b.summary)}</text>')  # fmt: skip
    return out


def _op_rect(c: Call, x: object, y: int, named: bool, end: int) -> str:
    x0 = x(c.start)  # type: ignore[operator]
    x1 = x(c.end if c.end is not None else end)  # type: ignore[operator]
    tip = (f"op {c.invoke_index}..{c.index}: process {c.process} {c.f} {c.key or ''} -> "
           f"{c.result}" + (f" via {c.node}" if c.node else ""))  # fmt: skip
    stroke = ' stroke="#000" stroke-width="1"' if named else ""
    return (f'<rect x="{x0:.1f}" y="{y + 1}" width="{max(1.0, x1 - x0):.1f}" height="{LANE_H - 2}"'
            f' fill="{COLOURS.get(c.result, "#999")}"{stroke} data-op="{c.invoke_index}">'
            f"<title>{escape(tip)}</title></rect>")  # fmt: skip


def mini_timeline(run: RunData, moments: Sequence[tuple[int, str]]) -> str:
    """The ops one anomaly names, each as its invoke..completion bar, labelled with its role.

    `moments` are (history index, role); an index may be an invoke or a
    completion. The time axis is compressed to the rank of each start and end
    (like the linearizability view), so ops milliseconds apart and the final
    reads seconds later are all readable; each bar is labelled with its times.
    """
    rows: list[tuple[Call | None, int, str]] = []
    for i, role in moments:
        op = run.by_index.get(i)
        if op is not None:
            rows.append((run.call_of(i), op.time, f"op {i}: {role}"))
    if not rows:
        return ""
    spans = [
        (c.start, c.end if c.end is not None else run.end) if c else (t, t) for c, t, _ in rows
    ]
    ticks = sorted({t for span in spans for t in span})
    rank = {t: k for k, t in enumerate(ticks)}
    width, left, right = 980, 300, 110
    height = 8 + 16 * len(rows)

    def x(ns: int) -> float:
        return left + (width - left - right) * rank[ns] / max(len(ticks) - 1, 1)

    def xt(ns: int) -> float:  # any time: the rank of the nearest tick at or before it
        k = max(0, bisect_right(ticks, ns) - 1)
        return x(ticks[k])

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="mini" width="{width}" '
           f'height="{height}" font-size="10" font-family="sans-serif">']  # fmt: skip
    for b in run.faults_at(ticks[0], ticks[-1]):
        x0, x1 = xt(max(b.start, ticks[0])), xt(min(b.end, ticks[-1]))
        out.append(f'<rect x="{x0:.1f}" y="0" width="{max(3.0, x1 - x0):.1f}" height="{height}" '
                   f'fill="{BAND_FILL.get(b.kind, "#ddd")}" opacity=".35">'
                   f"<title>{escape(b.summary)}</title></rect>")  # fmt: skip
    for k, ((c, _, label), (s0, s1)) in enumerate(zip(rows, spans)):
        y = 4 + 16 * k
        colour = COLOURS.get(c.result, "#999") if c else "#555"
        when = f"{s0 / 1e9:.3f}" + (f"..{s1 / 1e9:.3f}" if s1 != s0 else "") + " s"
        out.append(f'<text x="4" y="{y + 9}">{escape(label)}</text>'
                   f'<rect x="{x(s0):.1f}" y="{y}" width="{max(4.0, x(s1) - x(s0)):.1f}" '
                   f'height="11" fill="{colour}" stroke="#333"><title>{escape(label)}, {when}'
                   f'</title></rect><text x="{x(s1) + 6:.1f}" y="{y + 9}" fill="#555">'
                   f"{when}</text>")  # fmt: skip
    out.append("</svg>")
    return "".join(out)
