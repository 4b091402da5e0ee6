"""The evidence as one self-contained, interactive HTML page (no network resources).

For each partition the page draws one row per client with a bar per operation
(from call to return; times are compressed to their rank, so every bar is
visible). The longest linearizable prefix is drawn green and numbered in
linearization order, with the state after each step on hover; the operation
that could not follow it is red, with a marker at its return (the illegal
point). A line joins the linearization points in order. Annotations (e.g.
nemesis faults) are shaded bands. With a verbose check, clicking an operation
shows the longest partial linearization holding it.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from checkers.linearizable.model import (
    UNKNOWN,
    Annotation,
    LinearizationInfo,
    Model,
    PartitionInfo,
)

MAX_PARTIALS = 200
"""Partial linearizations drawn per partition (each costs a replay of the model)."""


def _replay(model: Model, part: PartitionInfo, seq: list[int]) -> list[str]:
    """Describes the state after each step of `seq` (stops where the model refuses)."""
    assert model.describe_state is not None
    state = model.init()
    out: list[str] = []
    for i in seq:
        op = part.history[i]
        ok, state = model.step(state, op.input, op.output)
        if not ok:
            break
        out.append(model.describe_state(state))
    return out


def _annotations(notes: list[Annotation], rank: dict[int, int]) -> list[dict[str, Any]]:
    return [
        {"s": rank[a.start], "e": rank[a.end], "label": a.label, "client": a.client_id,
         "details": a.details, "color": a.color}
        for a in notes
    ]  # fmt: skip


def _partition_data(model: Model, part: PartitionInfo, notes: list[Annotation], n: int) -> Any:
    """One partition's drawing data; times are ranks among its own and the annotations' times."""
    assert model.describe_operation is not None
    times = {t for op in part.history for t in (op.call, op.return_)}
    times |= {t for a in notes for t in (a.start, a.end)}
    rank = {t: r for r, t in enumerate(sorted(times))}
    pos = {op: k for k, op in enumerate(part.longest)}
    states = _replay(model, part, part.longest)
    ops = []
    for i, op in enumerate(part.history):
        k = pos.get(i)
        ops.append(
            {
                "c": op.client_id,
                "s": rank[op.call],
                "e": rank[op.return_],
                "d": model.describe_operation(op.input, op.output),
                "lin": -1 if k is None else k,
                "st": states[k] if k is not None and k < len(states) else None,
                "unk": op.output is UNKNOWN,
            }
        )
    partials = [
        {"seq": seq, "states": _replay(model, part, seq)} for seq in part.partials[:MAX_PARTIALS]
    ]
    first = part.history[0].input if part.history else None
    key = first[1] if isinstance(first, tuple) and len(first) == 3 else None
    label = f"partition {n}" + (f" (key {key})" if key is not None else "")
    return {
        "label": label,
        "result": part.result.value,
        "ops": ops,
        "longest": part.longest,
        "illegal": part.illegal,
        "partials": partials,
        "ticks": len(rank),
        "annotations": _annotations(notes, rank),
    }


def page_data(model: Model, info: LinearizationInfo, title: str = "") -> dict[str, Any]:
    """The JSON the page draws: the verdict and the partitions, illegal ones first."""
    order = sorted(range(len(info.partitions)), key=lambda k: info.partitions[k].result.value)
    order.sort(key=lambda k: info.partitions[k].result.value != "illegal")
    notes = list(info.annotations)
    return {
        "title": title,
        "result": info.result.value,
        "elapsed_s": round(info.elapsed_s, 4),
        "partitions": [_partition_data(model, info.partitions[k], notes, k + 1) for k in order],
    }


def render_page(model: Model, info: LinearizationInfo, title: str = "") -> str:
    """The page for `info` as one HTML string (no external resources)."""
    data = json.dumps(page_data(model, info, title), default=repr, separators=(",", ":"))
    data = data.replace("</", "<\\/")
    page = _TEMPLATE.replace("__TITLE__", html.escape(title or "linearizability"))
    return page.replace("__DATA__", data)


def visualize(model: Model, info: LinearizationInfo, path: str | Path, title: str = "") -> Path:
    """Writes the page for `info` to `path` (UTF-8 HTML, no external resources); returns it."""
    out = Path(path)
    out.write_text(render_page(model, info, title), encoding="utf-8")
    return out


_TEMPLATE = r"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>__TITLE__</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 6px} .ok{color:#1a7f37} .illegal{color:#c62828} .unknown{color:#8a6d00}
#parts button{margin:2px;padding:3px 8px;border:1px solid #bbb;background:#f6f6f6;cursor:pointer}
#parts button.sel{background:#333;color:#fff}
#wrap{overflow-x:auto;border:1px solid #ddd;margin-top:8px}
#tip{position:fixed;pointer-events:none;background:#fffbe6;border:1px solid #caa;padding:6px;
 max-width:480px;white-space:pre-wrap;display:none;font:12px monospace}
.legend span{display:inline-block;padding:1px 6px;margin-right:8px;border-radius:3px}
</style></head><body>
<h1>__TITLE__: <span id="verdict"></span></h1>
<div class="legend"><span style="background:#8fd19e">in the longest linearizable prefix (#order)
</span><span style="background:#ef9a9a">cannot be linearized after it</span>
<span style="background:#ddd">not reached</span><span style="border:1px dashed #555">unknown
 outcome</span><span style="background:#f4c27a">annotation</span></div>
<div id="parts"></div><div id="note"></div><div id="wrap"><svg id="svg"></svg></div>
<div id="tip"></div>
<script>
const D = __DATA__;
const NS = "http://www.w3.org/2000/svg", ROW = 34, LEFT = 70, TOP = 40;
const $ = (id) => document.getElementById(id);
let cur = 0, chosen = null;
function el(tag, attrs, parent, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  parent.appendChild(e); return e;
}
function tip(ev, text) {
  const t = $("tip"); t.style.display = "block"; t.textContent = text;
  t.style.left = (ev.clientX + 12) + "px"; t.style.top = (ev.clientY + 12) + "px";
}
function untip() { $("tip").style.display = "none"; }
function draw() {
  const P = D.partitions[cur], svg = $("svg");
  svg.innerHTML = "";
  // Clients first, then named processes (negative ids, e.g. Sibyl's final readers).
  const clients = [...new Set(P.ops.map(o => o.c))].sort((a, b) =>
    (a < 0) - (b < 0) || Math.abs(a) - Math.abs(b));
  const row = new Map(clients.map((c, i) => [c, i]));
  const ticks = Math.max(P.ticks, 2), W = Math.max(900, Math.min(ticks * 14, 60000));
  const x = (t) => LEFT + (t / (ticks - 1)) * (W - LEFT - 20);
  const H = TOP + clients.length * ROW + 20;
  svg.setAttribute("width", W); svg.setAttribute("height", H);
  for (const a of P.annotations) {
    const y = a.client === null ? TOP - 14 : TOP + row.get(a.client) * ROW;
    if (a.client !== null && !row.has(a.client)) continue;
    const h = a.client === null ? H - TOP : ROW;
    const r = el("rect", {x: x(a.s), y: y, width: Math.max(3, x(a.e) - x(a.s)), height: h,
      fill: a.color, opacity: 0.35}, svg);
    el("text", {x: x(a.s) + 2, y: y + 10, "font-size": 10}, svg, a.label);
    r.onmousemove = (ev) => tip(ev, a.label + "\n" + a.details); r.onmouseleave = untip;
  }
  clients.forEach((c, i) => el("text", {x: 4, y: TOP + i * ROW + 20}, svg, "client " + c));
  const seq = chosen === null ? P.longest : P.partials[chosen].seq;
  const sts = chosen === null ? null : P.partials[chosen].states;
  const at = new Map(seq.map((id, k) => [id, k]));
  P.ops.forEach((o, id) => {
    const y = TOP + row.get(o.c) * ROW + 6, k = at.get(id);
    const bad = id === P.illegal && chosen === null;
    const fill = bad ? "#ef9a9a" : (k !== undefined ? "#8fd19e" : "#ddd");
    const g = el("g", {}, svg);
    el("rect", {x: x(o.s), y: y, width: Math.max(4, x(o.e) - x(o.s)), height: ROW - 12, rx: 3,
      fill: fill, stroke: "#555", "stroke-dasharray": o.unk ? "4 3" : "none"}, g);
    const label = (k !== undefined ? "#" + (k + 1) + " " : "") + o.d;
    const cp = el("clipPath", {id: "c" + id}, g);
    el("rect", {x: x(o.s), y: y, width: Math.max(4, x(o.e) - x(o.s)), height: ROW - 12}, cp);
    el("text", {x: x(o.s) + 3, y: y + 15, "font-size": 11, "clip-path": "url(#c" + id + ")"},
      g, label);
    const st = k === undefined ? null : (sts ? sts[k] : o.st);
    g.onmousemove = (ev) => tip(ev, o.d + "\nclient " + o.c + (o.unk ? " (outcome unknown)" : "") +
      (k !== undefined ? "\nlinearized #" + (k + 1) + ", state after: " + st : "\nnot linearized") +
      (id === P.illegal ? "\ncannot be linearized after the prefix" : "") +
      (P.partials.length ? "\nclick: show the longest partial linearization with this op" : ""));
    g.onmouseleave = untip;
    g.onclick = () => { const j = P.partials.findIndex(p => p.seq.includes(id));
      chosen = j < 0 || chosen === j ? null : j; draw(); };
  });
  let t = -1;  // linearization points: each at or after its call and the previous point
  const pts = seq.map(id => { const o = P.ops[id]; t = Math.min(Math.max(t, o.s), o.e);
    return [x(t), TOP + row.get(o.c) * ROW + ROW / 2]; });
  if (pts.length > 1) el("polyline", {points: pts.map(p => p.join(",")).join(" "), fill: "none",
    stroke: "#1a7f37", "stroke-width": 1.5, opacity: 0.6}, svg);
  pts.forEach(p => el("circle", {cx: p[0], cy: p[1], r: 3, fill: "#1a7f37"}, svg));
  if (P.illegal !== null && chosen === null) {
    const o = P.ops[P.illegal], xx = x(o.e);
    $("wrap").scrollLeft = Math.max(0, x(o.s) - 240);  // open at the first illegal op
    const rowY = $("wrap").offsetTop + TOP + row.get(o.c) * ROW;
    if (rowY > window.innerHeight - ROW) window.scrollTo(0, rowY - window.innerHeight / 2);
    el("line", {x1: xx, x2: xx, y1: TOP - 16, y2: H, stroke: "#c62828", "stroke-width": 2}, svg);
    el("text", {x: xx + 3, y: TOP - 20, fill: "#c62828"}, svg, "illegal point: " + o.d);
  }
  $("note").textContent = P.label + ": " + P.result + ", " + P.ops.length +
    " ops, longest prefix " + P.longest.length +
    (chosen === null ? "" : " (showing partial linearization " + (chosen + 1) + ")");
}
function init() {
  $("verdict").textContent = D.result + " (" + D.elapsed_s + " s)";
  $("verdict").className = D.result;
  D.partitions.forEach((p, i) => { const b = document.createElement("button");
    b.textContent = p.label + ": " + p.result; b.className = i === 0 ? "sel" : "";
    b.onclick = () => { cur = i; chosen = null;
      document.querySelectorAll("#parts button").forEach(
        (x, j) => x.className = j === i ? "sel" : "");
      draw(); };
    $("parts").appendChild(b); });
  if (D.partitions.length) draw(); else $("note").textContent = "empty history";
}
init();
</script></body></html>
"""
