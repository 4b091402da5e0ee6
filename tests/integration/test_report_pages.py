"""report.html of real stored runs, opened in real headless Chromium.

For an invalid run (lost adds), a valid run, a non-linearizable register run
and a crashed run: the key elements are there, the browser logs no console
error, and each anomaly panel names its ops and the faults active at them
(checked against the history, read independently of the report code).
Screenshots are saved under test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.artifacts import validate_junit, validate_results, validate_run_outputs
from tests.support.browser import Page, open_page
from tests.support.stored_runs import ARTIFACTS, ROOT, StoredRuns

PROBES = {
    "verdict": "document.getElementById('verdict').textContent",
    "headlines": "(document.getElementById('headlines') || {innerText: ''}).innerText",
    "text": "document.body.innerText",
    "panels": "[...document.querySelectorAll('section.anomaly')].map(s => "
    "({ops: s.dataset.ops.split(',').map(Number), text: s.innerText}))",
    "rest": "document.querySelectorAll('p.rest').length",
    "drawn": "[...document.querySelectorAll('#timeline rect[data-op]')].map(r => +r.dataset.op)",
    "charts": "[...document.querySelectorAll('svg.chart')].map(s => s.getAttribute('aria-label'))",
    "files": "[...document.querySelectorAll('#files + ul a')].map(a => a.getAttribute('href'))",
    "total": "(document.getElementById('true-total') || {textContent: '0'}).textContent",
    "raw_folded": "!document.querySelector('details pre.raw').closest('details').open",
}


def _open(run_dir: Path, name: str, extra: dict[str, str] | None = None) -> Page:
    page = open_page((run_dir / "report.html").as_uri(), ARTIFACTS / f"report-{name}.png",
                     {**PROBES, **(extra or {})})  # fmt: skip
    assert page.errors == [], page.errors
    assert "\\u003e" not in page.dom
    html = (run_dir / "report.html").read_text()
    for ref in ('src="http', "src='http", 'href="http', "href='http", "@import", "url(http"):
        assert ref not in html, f"report.html loads {ref}...: it must be self-contained"
    return page


def _faults(history: Path) -> list[tuple[int, int, dict[str, Any]]]:
    """(start ns, end ns, record) per fault, straight from the nemesis ops."""
    ops = [json.loads(line) for line in history.read_text().splitlines() if line.strip()]
    open_: dict[Any, tuple[int, dict[str, Any]]] = {}
    out = []
    for op in ops:
        if op["process"] != "nemesis":
            continue
        v = op.get("value") or {}
        at = v.get("began", op["time"])
        if op["f"] == "start":
            open_[v["id"]] = (at, v)
        elif op["f"] == "stop" and v.get("id") in open_:
            s, rec = open_.pop(v["id"])
            out.append((s, at, rec))
        elif op["f"] == "heal":
            out += [(s, at, rec) for s, rec in open_.values()]
            open_.clear()
    end = ops[-1]["time"]
    return out + [(s, end, rec) for s, rec in open_.values()]


def _check_panels(page: Page, run_dir: Path) -> None:
    """Every panel names each of its ops, and each fault active at any of them."""
    times = {}
    invokes = set()
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        op = json.loads(line)
        times[op["index"]] = op["time"]
        if op["type"] == "invoke" and isinstance(op["process"], int):
            invokes.add(op["index"])
    faults = _faults(run_dir / "history.jsonl")
    drawn = set(page.values["drawn"])
    assert page.values["panels"], "no anomaly panel"
    for panel in page.values["panels"]:
        text = panel["text"]
        for i in panel["ops"]:
            assert f"op {i}" in text, (i, text)
            if i in invokes:
                assert i in drawn, f"op {i} of a panel is not drawn on the timeline"
            active = [rec for s, e, rec in faults if s <= times[i] <= e]
            for rec in active:
                assert rec["kind"] in text and all(t in text for t in rec["targets"]), (rec, text)
        if not any(s <= times[i] <= e for i in panel["ops"] for s, e, _ in faults):
            assert "none" in text or "no fault" in text


def test_invalid_run_report_explains_each_lost_add(stored_runs: StoredRuns) -> None:
    run = stored_runs.invalid
    page = _open(run, "invalid-lost-adds")
    doc = validate_results(run / "results.json")
    assert page.values["verdict"] == "INVALID"
    lost = doc["checkers"]["lost_adds"]["stats"]["anomaly_counts"]["lost"]
    assert (
        f"{lost:,} of " in page.values["headlines"]
        and "acknowledged adds were lost" in (page.values["headlines"])
    )
    true_total = sum(sum((r["stats"].get("anomaly_counts") or {}).values())
                     for r in doc["checkers"].values())  # fmt: skip
    assert page.values["total"] == f"{true_total:,}"
    stored = sum(len(r["anomalies"]) for r in doc["checkers"].values())
    assert len(page.values["panels"]) == min(20, stored)
    assert page.values["rest"] == stored - min(20, stored)
    texts = [p["text"] for p in page.values["panels"]]
    assert any("was added to" in t and "first read without it" in t for t in texts)
    _check_panels(page, run)
    for label in ("latency quantiles", "throughput by result", "clock offset", "siblings per read",
                  "t-visibility", "convergence"):  # fmt: skip
        assert any(label in c for c in page.values["charts"]), (label, page.values["charts"])
    for f in ("history.jsonl", "schedule.json", "nodes/n1.log", "sibyl.log"):
        assert f in page.values["files"] and (run / f).is_file(), f
    assert page.values["raw_folded"] and '"anomalies"' not in page.values["text"]
    assert "n4" in page.values["text"] or "clock" in page.values["text"]


def test_valid_run_report(stored_runs: StoredRuns) -> None:
    assert stored_runs.sweep_status == 0 and len(stored_runs.valid) == 2
    run = stored_runs.valid[0]
    page = _open(run, "valid")
    assert page.values["verdict"] == "valid"
    assert "Every checker found the history valid" in page.values["text"]
    assert page.values["panels"] == [] and "No anomalies." in page.values["text"]
    assert len(page.values["drawn"]) > 100
    assert any("convergence" in c for c in page.values["charts"])


def test_register_report_embeds_the_linearizability_view(stored_runs: StoredRuns) -> None:
    run = stored_runs.register
    frame = "document.getElementById('linearizability').contentDocument"
    page = _open(run, "register", {
        "lin_verdict": f"{frame}.getElementById('verdict').textContent",
        "lin_text": f"{frame}.body.innerText",
        # the first illegal op (drawn red) is on screen inside the frame when it opens
        "illegal_visible": f"(() => {{ const d = {frame}, w = d.defaultView;"
        " const r = [...d.querySelectorAll('rect')].find(e => e.getAttribute('fill') === "
        "'#ef9a9a'); const b = r.getBoundingClientRect(); return b.right > 0 && "
        "b.left < w.innerWidth && b.bottom > 0 && b.top < w.innerHeight; })()",
    })  # fmt: skip
    assert page.values["verdict"] == "INVALID"
    assert "not linearizable" in page.values["headlines"]
    assert page.values["lin_verdict"].startswith("illegal")
    assert "illegal point:" in page.values["lin_text"] and "->" in page.values["lin_text"]
    assert page.values["illegal_visible"] is True
    (panel,) = page.values["panels"]
    assert "cannot be linearized" in panel["text"] and "->" in panel["text"]
    _check_panels(page, run)


def test_crashed_run_has_report_junit_and_can_be_regenerated(stored_runs: StoredRuns) -> None:
    run = stored_runs.crashed
    for name in ("report.html", "junit.xml"):
        (run / name).unlink()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "report", str(run)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 255, done.stderr
    doc = validate_results(run / "results.json")
    assert doc["crashed"] is True and doc["valid"] == "unknown"
    validate_junit(run / "junit.xml")
    junit = (run / "junit.xml").read_text()
    assert "<error" in junit and "interrupted" in junit and "<skipped" not in junit
    page = _open(run, "crashed")
    assert page.values["verdict"] == "CRASHED"
    assert "automation failure" in page.values["text"]
    assert len(page.values["drawn"]) > 10, "the recorded ops are still drawn"


def test_every_stored_results_and_junit_matches_the_schemas(stored_runs: StoredRuns) -> None:
    assert validate_run_outputs(stored_runs.store) >= 10
    junit = (stored_runs.invalid / "junit.xml").read_text()
    doc = json.loads((stored_runs.invalid / "results.json").read_text())
    lost = doc["checkers"]["lost_adds"]["stats"]["anomaly_counts"]["lost"]
    assert f"lost: {lost:,}" in junit, "junit.xml must carry the checker's true count"
    for prop in ("seed", "command", "version", "node_commit"):
        assert f'name="{prop}"' in junit
    assert 'time="' in junit
    log = (stored_runs.invalid / "sibyl.log").read_text()
    assert "verdict: INVALID" in log and f"lost: {lost:,}" in log
