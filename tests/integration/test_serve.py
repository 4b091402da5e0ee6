"""`sibyl serve` serves the store on loopback and stops cleanly."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness.cluster import free_ports
from tests.support.stored_runs import StoredRuns


def test_serve_shows_a_stored_report(tmp_path: Path) -> None:
    run = tmp_path / "store" / "t" / "r1"
    run.mkdir(parents=True)
    (run / "report.html").write_text("<h1>hello report</h1>")
    (port,) = free_ports(1)
    cmd = [sys.executable, "-m", "harness.cli", "serve", "--store", str(tmp_path / "store"),
           "--port", str(port)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline, body = time.monotonic() + 20, ""
        while time.monotonic() < deadline and not body:
            try:
                url = f"http://127.0.0.1:{port}/t/r1/report.html"
                body = urllib.request.urlopen(url, timeout=2).read().decode()
            except OSError:
                time.sleep(0.1)
        assert "hello report" in body
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_serve_without_a_store_says_what_to_do(tmp_path: Path) -> None:
    from harness.cli import main

    assert main(["serve", "--store", str(tmp_path / "missing")]) == 254


def _get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read().decode()


def test_results_site_lists_filters_trends_and_links(stored_runs: StoredRuns) -> None:
    store = stored_runs.store
    assert stored_runs.indexed_by_runs == 4, "each run must add itself to the index"
    assert "merged 1 new runs" in stored_runs.merge_output
    (port,) = free_ports(1)
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "serve", "--store", str(store),
                             "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline, page = time.monotonic() + 20, ""
        while time.monotonic() < deadline and not page:
            try:
                page = _get(base + "/")[2]
            except OSError:
                time.sleep(0.1)
        rows = re.findall(r"<tr class='run' data-verdict='(\w+)'", page)
        assert sorted(rows) == ["crashed", "invalid", "invalid", "valid", "valid"], rows
        assert page.count("was expected but did not run") == 2, "shard 1 of 2 never ran"
        only = re.findall(r"data-verdict='(\w+)'", _get(base + "/?verdict=invalid")[2])
        assert only == ["invalid", "invalid"]
        reg = _get(base + "/?workload=register")[2]
        assert reg.count("<tr class='run'") == 1 and ">register<" in reg
        trends = _get(base + "/trends")[2]
        row = re.search(r"<tr class='trend' data-config='cart/none/sloppy/siblings/5n'>.*?</tr>",
                        trends)  # fmt: skip
        assert row is not None, trends
        assert "class='valid'" in row.group(0) and "class='missing'" in row.group(0)
        assert "<polyline" in row.group(0), "no anomaly-rate / throughput trend drawn"
        links = re.findall(r"href='(/[^']+)'", page)
        run = "/" + str(stored_runs.invalid.relative_to(store))
        kinds = {"report.html": "text/html", "history.jsonl": "text/plain",
                 "results.json": "application/json", "sibyl.log": "text/plain"}  # fmt: skip
        for name, kind in kinds.items():
            assert f"{run}/{name}" in links
            status, ctype, body = _get(base + f"{run}/{name}")
            assert status == 200 and ctype.startswith(kind) and body, (name, ctype)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_index_rebuild_matches_what_runs_recorded(stored_runs: StoredRuns, tmp_path: Path) -> None:
    from harness.cli import main

    other = tmp_path / "merged"
    other.mkdir()
    assert main(["index", "--store", str(other), "--merge", str(stored_runs.store)]) == 0
    assert main(["index", "--store", str(other), "--merge", str(stored_runs.store)]) == 0
    db = sqlite3.connect(other / "index.sqlite")
    try:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 5  # merged once, not twice
        assert db.execute("SELECT COUNT(*) FROM expected").fetchone()[0] == 4
    finally:
        db.close()
    assert main(["index", "--store", str(tmp_path / "nope")]) == 254
