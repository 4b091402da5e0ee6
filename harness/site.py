"""The pages of `sibyl serve`: the table of runs, and trends per configuration.

Both pages read only the store's SQLite index (harness/runindex.py), never
the run directories, so they stay fast with thousands of runs. Crashed runs
(automation failures, exit 255) are kept apart from invalid ones (safety
failures, exit 1). Nightly cells a sweep expected but that never produced a
run, and nights with no sweep at all, are listed as missing.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from html import escape
from typing import Any
from urllib.parse import quote

VERDICTS = ("valid", "invalid", "unknown", "crashed")
COLOURS = {"valid": "#16794c", "invalid": "#b3261e", "unknown": "#8a6d00", "crashed": "#444",
           "missing": "#fff"}  # fmt: skip
GAP_DAYS = 30

_STYLE = """<style>body{font:14px/1.4 system-ui,sans-serif;margin:1.5em}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left}
th{background:#f6f6f6}.v{color:#fff;padding:1px 7px;border-radius:9px}
.valid{background:#16794c}.invalid{background:#b3261e}.unknown{background:#8a6d00}
.crashed{background:#444}.missing{background:#fff;color:#b3261e;border:1px dashed #b3261e}
nav a{margin-right:1em}form{margin:.6em 0}</style>"""


def _page(title: str, body: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>"
            f"{escape(title)}</title>{_STYLE}</head><body><nav><a href='/'>runs</a>"
            f"<a href='/trends'>trends</a></nav><h1>{escape(title)}</h1>{body}</body></html>"
            )  # fmt: skip


def _rows(db: sqlite3.Connection, sql: str, args: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    cur = db.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def runs_page(db: sqlite3.Connection, verdict: str = "", workload: str = "") -> str:
    """The table of runs, newest first, filtered by verdict and workload."""
    where, args = [], []
    if verdict:
        where.append("verdict = ?")
        args.append(verdict)
    if workload:
        where.append("workload = ?")
        args.append(workload)
    sql = "SELECT * FROM runs" + (" WHERE " + " AND ".join(where) if where else "")
    runs = _rows(db, sql + " ORDER BY started_at DESC, path DESC", tuple(args))
    workloads = [r[0] for r in db.execute("SELECT DISTINCT workload FROM runs ORDER BY 1")]
    counts = dict(db.execute("SELECT verdict, COUNT(*) FROM runs GROUP BY verdict").fetchall())
    summary = " &middot; ".join(f"<span class='v {v}'>{v}</span> {counts.get(v, 0)}"
                                for v in VERDICTS)  # fmt: skip
    body = [f"<p>{summary} (crashed = the automation failed; invalid = the store failed)</p>",
            _filters(verdict, workload, workloads), _missing_html(db),
            "<table id='runs'><tr><th>verdict</th><th>date</th><th>duration</th><th>workload</th>"
            "<th>nemesis</th><th>mode / conflict</th><th>seed</th><th>anomalies</th>"
            "<th>ops/s</th><th>files</th></tr>"]  # fmt: skip
    for r in runs:
        body.append(_run_row(r))
    body.append("</table>" + ("" if runs else "<p>No runs match.</p>"))
    return _page("Sibyl runs", "".join(body))


def _filters(verdict: str, workload: str, workloads: list[str]) -> str:
    def options(values: list[str], chosen: str) -> str:
        return "".join(f"<option{' selected' if v == chosen else ''}>{escape(v)}</option>"
                       for v in ["", *values])  # fmt: skip

    return (f"<form method='get' action='/'>verdict <select name='verdict'>"
            f"{options(list(VERDICTS), verdict)}</select> workload <select name='workload'>"
            f"{options(workloads, workload)}</select> <button>filter</button></form>")  # fmt: skip


def _run_row(r: dict[str, Any]) -> str:
    base = "/" + quote(r["path"])
    counts = json.loads(r["anomaly_counts"] or "{}")
    anomalies = ", ".join(f"{k}: {v:,}" for k, v in sorted(counts.items())) or "none"
    links = " ".join(f"<a href='{base}/{f}'>{label}</a>" for f, label in (
        ("report.html", "report"), ("history.jsonl", "history"), ("results.json", "results"),
        ("junit.xml", "junit"), ("sibyl.log", "log")))  # fmt: skip
    dur = f"{r['duration_s']:.0f} s" if r["duration_s"] is not None else ""
    return (f"<tr class='run' data-verdict='{r['verdict']}'><td><span class='v {r['verdict']}'>"
            f"{r['verdict']}</span></td><td>{escape(r['started_at'] or '')}</td><td>{dur}</td>"
            f"<td>{escape(str(r['workload']))}</td><td>{escape(str(r['nemesis']))}</td>"
            f"<td>{escape(str(r['mode']))} / {escape(str(r['conflict']))}</td>"
            f"<td>{r['seed']}</td><td>{escape(anomalies)}</td><td>{r['ops_per_s'] or ''}</td>"
            f"<td>{links}</td></tr>")  # fmt: skip


def missing(db: sqlite3.Connection, today: dt.date | None = None) -> list[str]:
    """Expected nightly runs that never happened: cells with no run, and nights with no sweep."""
    out = []
    rows = _rows(db, "SELECT e.sweep, e.cell, e.config_key, e.seed, e.date FROM expected e "
                     "LEFT JOIN runs r ON r.sweep = e.sweep AND r.cell = e.cell "
                     "WHERE r.path IS NULL ORDER BY e.date DESC, e.cell")  # fmt: skip
    for m in rows:
        out.append(f"{m['date']}: {m['config_key']} seed {m['seed']} (sweep {m['sweep']}) "
                   "was expected but did not run")  # fmt: skip
    dates = sorted({dt.date.fromisoformat(d) for (d,) in db.execute(
        "SELECT DISTINCT date FROM expected") if d})  # fmt: skip
    if dates:
        end = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=1)
        start = max(dates[0], end - dt.timedelta(days=GAP_DAYS))
        day = start
        while day <= end:
            if day not in dates:
                out.append(f"{day.isoformat()}: no nightly sweep ran")
            day += dt.timedelta(days=1)
    return out


def _missing_html(db: sqlite3.Connection) -> str:
    items = missing(db)
    if not items:
        return ""
    lis = "".join(f"<li><span class='v missing'>missing</span> {escape(m)}</li>" for m in items)
    return f"<h2>Expected runs that did not happen</h2><ul id='missing'>{lis}</ul>"


def trends_page(db: sqlite3.Connection) -> str:
    """Per configuration: the verdict of each run over time, anomaly rate and throughput."""
    by: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(db, "SELECT * FROM runs ORDER BY started_at, path"):
        by[r["config_key"]].append(r)
    gone = defaultdict(list)
    for m in _rows(db, "SELECT e.* FROM expected e LEFT JOIN runs r ON r.sweep = e.sweep AND "
                       "r.cell = e.cell WHERE r.path IS NULL"):  # fmt: skip
        gone[m["config_key"]].append(m)
    body = [
        "<table id='trends'><tr><th>configuration</th><th>runs</th><th>verdicts over time "
        "(oldest left)</th><th>anomalies per 1,000 ops</th><th>throughput (ops/s)</th></tr>"
    ]
    for key in sorted(set(by) | set(gone)):
        runs = by.get(key, [])
        fails = sum(1 for r in runs if r["verdict"] == "invalid")
        crashes = sum(1 for r in runs if r["verdict"] == "crashed")
        body.append(
            f"<tr class='trend' data-config='{escape(key)}'><td>{escape(key)}</td><td>{len(runs)}"
            f" ({fails} invalid, {crashes} crashed, {len(gone.get(key, []))} missing)</td>"
            f"<td>{_strip(runs, gone.get(key, []))}</td>"
            f"<td>{_spark([_rate(r) for r in runs], '#b3261e')}</td>"
            f"<td>{_spark([float(r['ops_per_s'] or 0) for r in runs], '#1565c0')}</td></tr>"
        )
    body.append("</table>")
    return _page("Sibyl trends", "".join(body))


def _rate(r: dict[str, Any]) -> float:
    ops = r["ops"] or 0
    return 1000.0 * (r["anomalies"] or 0) / ops if ops else 0.0


def _strip(runs: list[dict[str, Any]], gone: list[dict[str, Any]]) -> str:
    cells = [(r["started_at"] or "", r["verdict"], f"/{quote(r['path'])}/report.html")
             for r in runs] + [(m["date"], "missing", "") for m in gone]  # fmt: skip
    cells.sort(key=lambda c: c[0])
    out = [f"<svg width='{max(12, 12 * len(cells))}' height='14' class='strip'>"]
    for k, (when, v, href) in enumerate(cells):
        rect = (f"<rect x='{12 * k}' y='1' width='10' height='12' fill='{COLOURS[v]}' "
                f"stroke='{'#b3261e' if v == 'missing' else 'none'}' class='{v}'>"
                f"<title>{escape(when)}: {v}</title></rect>")  # fmt: skip
        out.append(f"<a href='{href}'>{rect}</a>" if href else rect)
    out.append("</svg>")
    return "".join(out)


def _spark(values: list[float], colour: str) -> str:
    if not values:
        return ""
    w, h, top = max(60, 12 * len(values)), 24, max(values) or 1.0
    pts = " ".join(f"{12 * k + 5},{h - 2 - (h - 4) * v / top:.1f}" for k, v in enumerate(values))
    last = values[-1]
    lx, ly = pts.rsplit(" ", 1)[-1].split(",")
    return (f"<svg width='{w + 50}' height='{h}' class='spark'><polyline points='{pts}' "
            f"fill='none' stroke='{colour}' stroke-width='1.5'/><circle cx='{lx}' cy='{ly}' "
            f"r='2.5' fill='{colour}'/><text x='{w + 2}' y='{h - 8}' "
            f"font-size='10'>{last:.3g}</text></svg>")  # fmt: skip


def query_args(query: dict[str, list[str]]) -> dict[str, str]:
    """The filter arguments of a request (unknown values are dropped)."""
    v = (query.get("verdict") or [""])[0]
    return {"verdict": v if v in VERDICTS else "", "workload": (query.get("workload") or [""])[0]}
