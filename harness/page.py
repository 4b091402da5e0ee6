"""report.html: one self-contained page that answers "what went wrong, and why?".

The page (harness/templates/report.html.j2) opens with the verdict and one
sentence per checker that is not valid, the configuration, the seed and the
rerun command; then the anomalies in prose, grouped by cause (`FULL_PANELS`
in full, the first of each group before more of a large one, each with its ops
on a small timeline and the faults active at each moment; the rest as one line
each); the timeline of ops per
process; the figures; the linearizability view for register runs; links to
the run's files; and the raw JSON, folded. No network at view time.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

from harness import plots
from harness.findings import FULL_PANELS, Group, groups, headline, total, true_counts
from harness.linview import embedded_view
from harness.narrate import Panel
from harness.rundata import RunData
from harness.timeline import mini_timeline, process_timeline

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.ChainableUndefined,
)
RAW_CHARS, RAW_ANOMALIES = 300_000, 10
CONFIG_KEYS = ("workload", "nodes", "nemesis", "time_limit_s", "rate", "concurrency", "mode",
               "conflict", "n", "r", "w", "quiesce_s", "intercepts")  # fmt: skip


def word(v: Any) -> str:
    return "valid" if v is True else "INVALID" if v is False else "unknown"


def css(v: Any) -> str:
    return "ok" if v is True else "bad" if v is False else "unk"


def render_html(run: RunData) -> str:
    """The report page for `run`."""
    doc = run.doc
    gs = groups(run)
    numbered = _number(gs)
    full = full_panels(gs)
    named = {i for p, _ in numbered for i in p.ops}
    checkers: Mapping[str, Any] = doc.get("checkers") or {}
    svg = markupsafe.Markup
    figures = [svg(s) for s in _figures(run) if s]
    return _ENV.get_template("report.html.j2").render(
        doc=doc,
        verdict=word(doc.get("valid")) if not doc.get("crashed") else "CRASHED",
        verdict_css=css(doc.get("valid")) if not doc.get("crashed") else "bad",
        headlines=[h for name, r in checkers.items() if (h := headline(name, r, run))],
        checkers=[(name, r, true_counts(r), total(r)) for name, r in checkers.items()],
        config=[
            (k, _show(doc.get("config", {}).get(k)))
            for k in CONFIG_KEYS
            if k in (doc.get("config") or {})
        ],  # fmt: skip
        groups=[(g, [(p, n) for p, n in numbered if p in g.panels]) for g in gs],
        minis={
            n: svg(mini_timeline(run, [(m.index, m.role) for m in p.moments]))
            for p, n in numbered
            if n in full
        },  # fmt: skip
        full=full,
        full_count=FULL_PANELS,
        stored=sum(len(g.panels) for g in gs),
        true_total=sum(total(r) for r in checkers.values()),
        timeline=svg(process_timeline(run, named)),
        figures=figures,
        linview=svg(_linview(run)),
        bands=run.bands,
        files=run.files,
        raw=_raw(doc),
        word=word,
        css=css,
        history_error=run.history_error,
        shrunk=run.shrunk,
    )


def full_panels(gs: list[Group]) -> set[int]:
    """The numbers (as `_number` gives them) of the panels drawn in full: the first of
    each group, largest group first, then the next in group order, `FULL_PANELS` in all
    (so a small group's cause is never left to one-line links by a large group)."""
    firsts, n = [], 0
    for g in gs:
        firsts.append(n + 1)
        n += len(g.panels)
    full = set(firsts[:FULL_PANELS])
    others = (i for i in range(1, n + 1) if i not in full)
    full.update(itertools.islice(others, FULL_PANELS - len(full)))
    return full


def _number(gs: list[Group]) -> list[tuple[Panel, int]]:
    out, n = [], 0
    for g in gs:
        for p in g.panels:
            n += 1
            out.append((p, n))
    return out


def _figures(run: RunData) -> list[str]:
    nodes = [f"n{i + 1}" for i in range(int((run.doc.get("config") or {}).get("nodes") or 0))]
    staleness = ((run.doc.get("checkers") or {}).get("staleness") or {}).get("stats") or {}
    return [
        *plots.latency_charts(run),
        plots.throughput_chart(run),
        plots.clock_chart(run, nodes),
        plots.siblings_chart(run),
        plots.visibility_chart(staleness.get("t_visibility") or []),
        plots.convergence_chart(run),
    ]


def _linview(run: RunData) -> str:
    if (run.doc.get("config") or {}).get("workload") != "register" or not run.history:
        return ""
    return embedded_view(run.history, str(run.doc.get("test") or "register"))


def _first(anomalies: list[Any]) -> list[Any]:
    more = len(anomalies) - RAW_ANOMALIES
    return anomalies[:RAW_ANOMALIES] + ([f"... {more} more in results.json"] if more > 0 else [])


def _show(v: Any) -> str:
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v)) or "none"
    return str(v)


def _raw(doc: Mapping[str, Any]) -> str:
    """The results document as indented JSON (for the folded raw-data section only), with
    RAW_ANOMALIES anomalies per checker and cut at RAW_CHARS, so a huge results.json cannot
    make the page huge (the file itself is linked)."""
    checkers = {name: {**r, "anomalies": _first(r.get("anomalies") or [])}
                for name, r in (doc.get("checkers") or {}).items()}  # fmt: skip
    text = json.dumps({**doc, "checkers": checkers} if checkers else doc, indent=1, default=str,
                      ensure_ascii=False)  # fmt: skip
    if len(text) <= RAW_CHARS:
        return text
    return (
        text[:RAW_CHARS]
        + f"\n... cut at {RAW_CHARS:,} of {len(text):,} characters: see results.json"
    )
