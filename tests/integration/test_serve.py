"""`sibyl serve` serves the store on loopback and stops cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from harness.cluster import free_ports


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
