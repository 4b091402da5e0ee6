"""`check_remote(make_remote, workdir)`: the conformance kit every `Remote` passes.

`make_remote()` returns a fresh Remote to a host on which `workdir` is a writable,
empty directory. The kit checks the contract in harness/remote.py: exit status and
both output streams, timeouts that kill, files in and out (atomic writes, missing
files raise OSError), daemons that are detached and report their own pid, signals
(stop, continue, kill) verified in the host's /proc, and kill of a gone pid.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from harness.remote import Remote, RemoteTimeout

NO_SUCH_PID = 4_194_305  # above Linux's largest pid_max: never a process


def check_remote(make_remote: Callable[[], Remote], workdir: str, local_tmp: Path) -> None:
    remote = make_remote()
    try:
        assert isinstance(remote, Remote)
        _commands(remote)
        _files(remote, workdir, local_tmp)
        _daemons(remote, workdir)
    finally:
        remote.close()


def _commands(remote: Remote) -> None:
    done = remote.run("echo out; echo err >&2; exit 7", timeout_s=30)
    assert (done.status, done.stdout, done.stderr) == (7, "out\n", "err\n")
    assert remote.run("printf '%s' \"$((6 * 7))\"").stdout == "42"
    big = remote.run("head -c 300000 /dev/zero | tr '\\0' x", timeout_s=30)
    assert big.status == 0 and len(big.stdout) == 300000  # more than one SSH window's chunk
    started = time.monotonic()
    with pytest.raises(RemoteTimeout, match="did not finish"):
        remote.run("sleep 20", timeout_s=0.5)
    assert time.monotonic() - started < 10


def _files(remote: Remote, workdir: str, local_tmp: Path) -> None:
    path = f"{workdir}/f.bin"
    payload = bytes(range(256)) * 64
    remote.write_file(path, payload)
    assert remote.read_file(path) == payload
    remote.write_file(path, b"second")  # replaced whole
    assert remote.read_file(path) == b"second"
    assert remote.run(f"ls {workdir}").stdout.split() == ["f.bin"]  # no temp file left
    with pytest.raises(OSError):
        remote.read_file(f"{workdir}/missing")
    src = local_tmp / "up.bin"
    src.write_bytes(payload)
    remote.upload(src, f"{workdir}/up.bin")
    assert remote.run(f"cmp -s {workdir}/up.bin {workdir}/up.bin && wc -c < {workdir}/up.bin"
                      ).stdout.strip() == str(len(payload))  # fmt: skip
    remote.download(f"{workdir}/up.bin", local_tmp / "down" / "back.bin")
    assert (local_tmp / "down" / "back.bin").read_bytes() == payload


def _daemons(remote: Remote, workdir: str) -> None:
    pid = remote.start_daemon(
        ["sh", "-c", 'echo "started $GREETING in $(pwd)"; exec sleep 60'],
        pid_file=f"{workdir}/d.pid", log_file=f"{workdir}/d.log",
        env={"GREETING": "hello world"}, cwd=workdir,
    )  # fmt: skip
    try:
        assert remote.read_file(f"{workdir}/d.pid").decode().strip() == str(pid)
        assert remote.process_state(pid) in ("S", "R")
        # the pid is the daemon's (its sh execs sleep), not a wrapper's
        _wait(lambda: remote.read_file(f"/proc/{pid}/comm").decode().strip() == "sleep")
        sid = remote.read_file(f"/proc/{pid}/stat").decode().rpartition(")")[2].split()[3]
        assert sid == str(pid), "the daemon leads its own session"
        _wait(lambda: b"started hello world in " + workdir.encode() in
              remote.read_file(f"{workdir}/d.log"))  # fmt: skip
        assert remote.signal(pid, signal.SIGSTOP)
        _wait(lambda: remote.process_state(pid) == "T")
        assert remote.signal(pid, signal.SIGCONT)
        _wait(lambda: remote.process_state(pid) in ("S", "R"))
        assert remote.kill(pid, 5.0)
        assert remote.process_state(pid) is None
        assert not remote.signal(NO_SUCH_PID, signal.SIGTERM)
    finally:
        remote.run(f"kill -9 {pid} 2>/dev/null")


def _wait(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)  # polling the condition
