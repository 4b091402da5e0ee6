"""A tiny SVG chart builder: one time axis, one value axis, fault bands, lines and dots.

No plotting library and no script: the report must stay one self-contained
file that opens anywhere. Every chart of the report shares the history's time
base (seconds since the test started) and shades the same fault bands, so
charts stacked on the page line up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from harness.bands import Band

LEFT, RIGHT, TOP, BOTTOM = 64, 16, 22, 30
BAND_FILL = {"partition": "#f4c27a", "kill": "#ef9a9a", "pause": "#ce93d8", "clock": "#90caf9",
             "latency": "#a5d6a7", "bandwidth": "#bcaaa4"}  # fmt: skip


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values between lo and hi."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [round(first + k * step, 10) for k in range(int((hi - first) / step) + 1)]


@dataclass
class Chart:
    """A chart `width` x `height` px over time [0, t_max] s and values [y_lo, y_hi]."""

    title: str
    t_max: float
    y_lo: float
    y_hi: float
    y_label: str = ""
    width: int = 1100
    height: int = 220
    log_y: bool = False
    x_label: str = "seconds since the test started"
    parts: list[str] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)

    def x(self, t: float) -> float:
        span = max(self.t_max, 1e-9)
        return LEFT + (self.width - LEFT - RIGHT) * min(max(t, 0.0), span) / span

    def y(self, v: float) -> float:
        lo, hi, v2 = float(self.y_lo), float(self.y_hi), float(v)
        if self.log_y:
            lo, hi, v2 = math.log10(lo), math.log10(hi), math.log10(max(v, self.y_lo))
        frac = (v2 - lo) / (hi - lo) if hi > lo else 0.5
        return TOP + (self.height - TOP - BOTTOM) * (1 - min(max(frac, 0.0), 1.0))

    def bands(self, bands: Sequence[Band]) -> None:
        """Shades each fault over the plot area, with its phrase on hover."""
        h = self.height - TOP - BOTTOM
        for b in bands:
            x0, x1 = self.x(b.start / 1e9), self.x(b.end / 1e9)
            self.parts.append(
                f'<rect class="band" x="{x0:.1f}" y="{TOP}" width="{max(1.5, x1 - x0):.1f}" '
                f'height="{h}" fill="{BAND_FILL.get(b.kind, "#ddd")}" opacity=".35">'
                f"<title>{escape(b.summary)}</title></rect>"
            )

    def vline(self, t: float, label: str, colour: str = "#555") -> None:
        x = self.x(t)
        right = x > self.width / 2  # label on the side with room
        self.parts.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{self.height - BOTTOM}"'
                          f' stroke="{colour}" stroke-dasharray="4 3"/>'
                          f'<text x="{x - 3 if right else x + 3:.1f}" y="{TOP + 10}" '
                          f'fill="{colour}" text-anchor="{"end" if right else "start"}">'
                          f"{escape(label)}</text>")  # fmt: skip

    def line(self, pts: Sequence[tuple[float, float]], colour: str, label: str,
             step: bool = False, max_gap: float | None = None) -> None:  # fmt: skip
        """A series of (t s, value) points; `step` draws a staircase; the line breaks where
        two points are more than `max_gap` s apart (no data is not a straight line)."""
        if not pts:
            return
        runs: list[list[str]] = [[]]
        for k, (t, v) in enumerate(pts):
            if k and max_gap is not None and t - pts[k - 1][0] > max_gap:
                runs.append([])
            elif step and k:
                runs[-1].append(f"{self.x(t):.1f},{self.y(pts[k - 1][1]):.1f}")
            runs[-1].append(f"{self.x(t):.1f},{self.y(v):.1f}")
        for coords in runs:
            self.parts.append(f'<polyline points="{" ".join(coords)}" fill="none" '
                              f'stroke="{colour}" stroke-width="1.6">'
                              f"<title>{escape(label)}</title></polyline>")  # fmt: skip
        self.legend.append((colour, label))

    def dots(self, pts: Sequence[tuple[float, float]], colour: str, label: str) -> None:
        self.parts.extend(
            f'<circle cx="{self.x(t):.1f}" cy="{self.y(v):.1f}" r="1.8" fill="{colour}"/>'
            for t, v in pts
        )
        self.legend.append((colour, label))

    def render(self, x_ticks: Sequence[float] | None = None) -> str:
        """The chart as one <svg> element, axes and legend included."""
        w, h = self.width, self.height
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{w}" height="{h}" '
               f'viewBox="0 0 {w} {h}" font-size="11" font-family="sans-serif" role="img" '
               f'aria-label="{escape(self.title)}">',
               f'<text x="{LEFT}" y="14" font-weight="bold">{escape(self.title)}</text>'
               ]  # fmt: skip
        out += self._axes(x_ticks)
        out += self.parts
        lx = float(w - RIGHT)
        for colour, label in reversed(self.legend):
            lx -= 12 + 6.2 * len(label)
            out.append(f'<rect x="{lx:.0f}" y="5" width="9" height="9" fill="{colour}"/>'
                       f'<text x="{lx + 12:.0f}" y="13">{escape(label)}</text>')  # fmt: skip
        out.append("</svg>")
        return "".join(out)

    def _axes(self, x_ticks: Sequence[float] | None) -> list[str]:
        w, h = self.width, self.height
        out = [f'<rect x="{LEFT}" y="{TOP}" width="{w - LEFT - RIGHT}" height="{h - TOP - BOTTOM}" '
               'fill="none" stroke="#bbb"/>']  # fmt: skip
        for t in x_ticks if x_ticks is not None else nice_ticks(0, self.t_max, 10):
            x = self.x(t)
            out.append(f'<text x="{x:.1f}" y="{h - BOTTOM + 13}" text-anchor="middle">{t:g}</text>')
        out.append(f'<text x="{(LEFT + w) / 2:.0f}" y="{h - 4}" text-anchor="middle" '
                   f'fill="#555">{escape(self.x_label)}</text>')  # fmt: skip
        if self.log_y:
            lo, hi = math.floor(math.log10(self.y_lo)), math.ceil(math.log10(self.y_hi))
            yt = [10.0**d for d in range(lo, hi + 1)]
        else:
            yt = nice_ticks(self.y_lo, self.y_hi, 4)
        for v in yt:
            if self.y_lo <= v <= self.y_hi:
                y = self.y(v)
                out.append(f'<line x1="{LEFT}" x2="{w - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                           f'stroke="#eee"/><text x="{LEFT - 4}" y="{y + 4:.1f}" '
                           f'text-anchor="end">{v:g}</text>')  # fmt: skip
        out.append(f'<text x="12" y="{(TOP + h - BOTTOM) / 2:.0f}" fill="#555" '
                   f'transform="rotate(-90 12 {(TOP + h - BOTTOM) / 2:.0f})" '
                   f'text-anchor="middle">{escape(self.y_label)}</text>')  # fmt: skip
        return out
