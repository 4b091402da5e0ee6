"""The Remote conformance kit, run against LocalRemote and SSHRemote (a real sshd)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from harness.remote import LocalRemote, Remote
from harness.ssh import SSHRemote
from tests.support.labs import loopback_sshd, needs_root
from tests.support.remote_kit import check_remote


@pytest.mark.parametrize("kind", ["local", "ssh"])
def test_remote_conformance(kind: str, tmp_path: Path) -> None:
    workdir = tmp_path / "host"
    workdir.mkdir()
    if kind == "local":
        check_remote(LocalRemote, str(workdir), tmp_path)
        return
    needs_root("SSHRemote against a real sshd")
    with loopback_sshd(tmp_path / "lab") as sshd:
        make: Callable[[], Remote] = lambda: SSHRemote(sshd.target)  # noqa: E731
        check_remote(make, str(workdir), tmp_path)
