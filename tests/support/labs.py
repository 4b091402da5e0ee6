"""Real hosts for tests: a private sshd on 127.0.0.1, and a netns lab, each removed by a finalizer.

Both need root (sshd switches users; namespaces). `needs_root()` skips with a
clear message otherwise; a skip is reported as a skip, never as a pass.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness import netns
from harness.cluster import free_ports
from harness.inventory import HostSpec, Inventory
from harness.sshd import SshdSpec, stop_pid

ROOT = os.geteuid() == 0


def needs_root(what: str) -> None:
    if not ROOT:
        pytest.skip(
            f"{what} needs root (sshd, network namespaces); run the suite as root "
            "to cover it (CI does)"
        )


@dataclass(frozen=True)
class LoopbackSshd:
    """An sshd on 127.0.0.1 accepting `target`'s key."""

    target: HostSpec
    spec: SshdSpec


@contextmanager
def loopback_sshd(dir: Path) -> Iterator[LoopbackSshd]:
    """Starts a private sshd on 127.0.0.1:<free port>; kills exactly its pid on exit."""
    spec = SshdSpec(dir / "sshd", "127.0.0.1", free_ports(1)[0])
    spec.prepare(dir / "id_ed25519")
    (dir / "known_hosts").write_text(spec.known_hosts_line())
    pid = spec.start()
    try:
        user = "root" if ROOT else os.environ.get("USER", "root")
        host = HostSpec("lo", "127.0.0.1", spec.port, user, str(dir / "id_ed25519"),
                        str(dir / "known_hosts"))  # fmt: skip
        yield LoopbackSshd(host, spec)
    finally:
        stop_pid(pid, "sshd")


@contextmanager
def netns_lab(dir: Path, nodes: int) -> Iterator[Inventory]:
    """`sibyl lab up --kind netns`, always followed by `lab down` (also on failure)."""
    try:
        yield netns.up(dir, nodes)
    finally:
        netns.down(dir)
