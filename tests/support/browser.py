"""Real headless Chromium for the report tests, driven over the DevTools protocol.

`open_page(url, png)` loads a page in Debian's `chromium` (installed with
apt-get when missing and we are root; otherwise the test fails, it never
skips), waits for it to load, and returns the rendered DOM, every console
error and uncaught exception (iframes included), and a full-page screenshot
saved to `png`. The browser runs with a throw-away profile and no network
features, and is killed by pid when the page is done.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--remote-allow-origins=*",
         "--window-size=1400,1000"]  # fmt: skip
LOAD_TIMEOUT_S = 30.0


def chromium() -> str:
    """The chromium binary; installs Debian's package when missing (root only)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, timeout=900,
                       check=False, capture_output=True)  # fmt: skip
        found = shutil.which("chromium")
        if found:
            return found
    pytest.fail(
        "Debian's chromium is needed to test the HTML report and it cannot be "
        "installed here (not root, or apt-get failed): run `apt-get install chromium`"
    )


@dataclass
class Page:
    """What the browser saw."""

    dom: str
    errors: list[str] = field(default_factory=list)
    logs: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


class _Cdp:
    """A minimal DevTools-protocol client: send a command, collect events while waiting."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=LOAD_TIMEOUT_S)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        me = self.next_id
        self.ws.send(json.dumps({"id": me, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == me:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result") or {})
            if "method" in msg:
                self.events.append(msg)

    def wait_for(self, method: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(e["method"] == method for e in self.events):
                return
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"no {method} within {timeout_s} s")


def open_page(url: str, png: Path, probes: dict[str, str] | None = None) -> Page:
    """Loads `url`, returns the DOM and console errors, saves a full-page screenshot.

    `probes` maps names to JavaScript expressions evaluated in the loaded page
    (e.g. to look inside an iframe); their values land in `Page.values`.
    """
    profile = tempfile.mkdtemp(prefix="sibyl-chromium-")
    proc = subprocess.Popen([chromium(), *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        cdp = _Cdp(_page_ws(Path(profile)))
        for domain in ("Page", "Runtime", "Log"):
            cdp.call(f"{domain}.enable")
        cdp.call("Page.navigate", url=url)
        cdp.wait_for("Page.loadEventFired", LOAD_TIMEOUT_S)
        time.sleep(0.3)  # let inline scripts that run after load settle
        dom = cdp.call("Runtime.evaluate", expression="document.documentElement.outerHTML",
                       returnByValue=True)["result"]["value"]  # fmt: skip
        values = {name: cdp.call("Runtime.evaluate", expression=js, returnByValue=True)
                  ["result"].get("value") for name, js in (probes or {}).items()}  # fmt: skip
        _screenshot(cdp, png)
        page = Page(dom, values=values)
        _collect(cdp.events, page)
        cdp.ws.close()
        return page
    finally:
        proc.kill()
        proc.wait(timeout=30)
        shutil.rmtree(profile, ignore_errors=True)


def _page_ws(profile: Path) -> str:
    """The websocket URL of the browser's first page, from DevToolsActivePort."""
    import urllib.request

    deadline = time.monotonic() + LOAD_TIMEOUT_S
    port_file = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if port_file.is_file() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                targets = json.loads(r.read())
            pages = [t for t in targets if t.get("type") == "page"]
            if pages:
                return str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.1)
    raise TimeoutError("chromium did not open its DevTools port")


def _screenshot(cdp: _Cdp, png: Path) -> None:
    size = cdp.call("Page.getLayoutMetrics")["cssContentSize"]
    width, height = int(size["width"]), min(int(size["height"]), 16000)
    cdp.call("Emulation.setDeviceMetricsOverride", width=max(width, 1400), height=height,
             deviceScaleFactor=1, mobile=False)  # fmt: skip
    shot = cdp.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    png.parent.mkdir(parents=True, exist_ok=True)
    png.write_bytes(base64.b64decode(shot["data"]))


def _collect(events: list[dict[str, Any]], page: Page) -> None:
    for e in events:
        p = e.get("params") or {}
        if e["method"] == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails") or {}
            page.errors.append(f"uncaught: {(d.get('exception') or {}).get('description') or d}")
        elif e["method"] == "Runtime.consoleAPICalled":
            text = " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])
            )
            page.logs.append(f"{p.get('type')}: {text}")
            if p.get("type") in ("error", "assert"):
                page.errors.append(f"console.{p.get('type')}: {text}")
        elif e["method"] == "Log.entryAdded":
            entry = p.get("entry") or {}
            if entry.get("level") == "error":
                page.errors.append(f"log: {entry.get('text')} ({entry.get('url', '')})")
