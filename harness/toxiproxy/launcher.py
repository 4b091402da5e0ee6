"""Starting and stopping a Toxiproxy server as a subprocess on a free loopback port.

`start_server()` runs the real `toxiproxy-server` when it is on PATH (and
`prefer_real`), otherwise ours (`python -m harness.toxiproxy`), waits until
GET /version answers, and returns a `ServerProcess` that knows its pid, address
and a ready `ToxiproxyClient`. `ServerProcess.stop()` signals exactly that pid
(SIGTERM, then SIGKILL after a grace period) and reaps it.

The port is picked by binding port 0 and releasing it; if another process takes
it before the server binds, the server exits and the launch is retried on a new
port (up to `attempts` times).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import IO

from harness.toxiproxy.adapter import ServerUnreachable, ToxiproxyClient


class ServerKind(StrEnum):
    """Which implementation a `ServerProcess` runs."""

    SIBYL = "sibyl"  # ours: python -m harness.toxiproxy
    SHOPIFY = "shopify"  # the real toxiproxy-server


class LaunchError(RuntimeError):
    """The server did not come up; the message says why and where its log is."""


@dataclass
class ServerProcess:
    """A running server subprocess; `client` talks to it."""

    kind: ServerKind
    host: str
    port: int
    process: subprocess.Popen[bytes]
    client: ToxiproxyClient
    log_path: Path | None

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace_s: float = 5.0) -> int:
        """Stops this process (by its pid only) and returns its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=grace_s)
        return self.process.returncode


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def real_server_path() -> str | None:
    """Path of the real `toxiproxy-server`, or None when it is not on PATH."""
    return shutil.which("toxiproxy-server")


def server_command(kind: ServerKind, host: str, port: int, seed: int | None) -> list[str]:
    """The argv that runs a server of `kind` on host:port."""
    if kind is ServerKind.SHOPIFY:
        real = real_server_path()
        if real is None:
            raise LaunchError("toxiproxy-server is not on PATH; use kind=ServerKind.SIBYL")
        argv = [real, "-host", host, "-port", str(port)]
        return argv + (["-seed", str(seed)] if seed is not None else [])
    argv = [sys.executable, "-m", "harness.toxiproxy", "--host", host, "--port", str(port)]
    return argv + (["--seed", str(seed)] if seed is not None else [])


def start_server(
    *,
    seed: int | None = None,
    host: str = "127.0.0.1",
    prefer_real: bool = True,
    log_path: Path | None = None,
    startup_timeout_s: float = 15.0,
    request_timeout_s: float = 5.0,
    attempts: int = 3,
) -> ServerProcess:
    """Starts a server on a free port of `host` and waits until it answers.
    Output goes to `log_path` (appended) or is discarded. Raises `LaunchError`."""
    real = prefer_real and real_server_path() is not None
    kind = ServerKind.SHOPIFY if real else ServerKind.SIBYL
    last_error = ""
    for _ in range(attempts):
        port = free_port(host)
        argv = server_command(kind, host, port, seed)
        with _open_log(log_path) as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        client = ToxiproxyClient(host, port, timeout_s=request_timeout_s)
        server = ServerProcess(kind, host, port, process, client, log_path)
        last_error = _wait_ready(server, startup_timeout_s)
        if not last_error:
            return server
        server.stop()
    where = f"; see {log_path}" if log_path else ""
    raise LaunchError(f"{kind} Toxiproxy server did not start on {host}: {last_error}{where}")


def _open_log(log_path: Path | None) -> IO[bytes]:
    if log_path is None:
        return open(os.devnull, "wb")
    return open(log_path, "ab")


def _wait_ready(server: ServerProcess, timeout_s: float) -> str:
    """Polls /version until it answers; returns "" when ready, else why not."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            return f"process {server.pid} exited with status {server.process.returncode}"
        try:
            server.client.version()
            return ""
        except ServerUnreachable:
            time.sleep(0.05)  # polling interval while the child starts, not synchronisation
    return f"no answer from {server.address}/version within {timeout_s} s"
