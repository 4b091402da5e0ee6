"""A `Remote` is one host the harness controls: run a command, move files, run daemons.

Everything the harness does to a node's host goes through the host's Remote, so
the same cluster code drives processes on this machine (`LocalRemote`, plain
subprocesses) and on SSH hosts, network namespaces and VMs (`SSHRemote` in
harness/ssh.py, paramiko). Both are held to one conformance kit,
`tests/support/remote_kit.py: check_remote(make_remote)`.

Shared guarantees:
* `run` never raises for a failing command: it returns the exit status and the
  output, and raises `RemoteError` only when the host cannot be used at all (or
  `RemoteTimeout` when the command outlives `timeout_s`; it is then killed).
* `start_daemon` returns the pid of the daemon itself (not of a wrapper shell),
  detached in its own session, with its output appended to `log_file` and its pid
  written to `pid_file`; it survives the connection that started it.
* `write_file` is atomic: a reader sees the old content or the new, never half.
* `process_state(pid)` reads /proc on the host: "R", "S", "T", ... or None when the
  process is gone or a zombie, which is how kill and pause are verified.
"""

from __future__ import annotations

import shlex
import signal as signals
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable


class RemoteError(RuntimeError):
    """A host that cannot be used as asked; the message names the host and the fix."""


class RemoteTimeout(RemoteError):
    """A command that did not finish within its timeout (it was killed)."""


@dataclass(frozen=True)
class Completed:
    """What a command did: its exit status and its output (decoded as UTF-8)."""

    status: int
    stdout: str
    stderr: str

    def check(self, host: str, what: str) -> Completed:
        """Itself when the status is 0; else raises RemoteError naming host and command."""
        if self.status != 0:
            detail = (self.stderr or self.stdout).strip()[-500:]
            raise RemoteError(f"host {host}: {what} failed (exit {self.status}): {detail}")
        return self


@runtime_checkable
class Remote(Protocol):
    """One host. `name` is how messages refer to it; `address` is where it listens."""

    name: str
    address: str

    def run(self, cmd: str, timeout_s: float = 60.0) -> Completed: ...
    def upload(self, local: Path, path: str) -> None: ...
    def download(self, path: str, local: Path) -> None: ...
    def start_daemon(
        self, argv: Sequence[str], *, pid_file: str, log_file: str,
        env: Mapping[str, str] | None = None, cwd: str | None = None,
    ) -> int: ...  # fmt: skip
    def signal(self, pid: int, sig: signals.Signals) -> bool: ...
    def kill(self, pid: int, timeout_s: float = 5.0) -> bool: ...
    def wait_gone(self, pid: int, timeout_s: float) -> bool: ...
    def read_file(self, path: str) -> bytes: ...
    def write_file(self, path: str, data: bytes) -> None: ...
    def process_state(self, pid: int) -> str | None: ...
    def close(self) -> None: ...


def daemon_script(
    argv: Sequence[str], pid_file: str, log_file: str,
    env: Mapping[str, str] | None, cwd: str | None,
) -> str:  # fmt: skip
    """The sh command that starts `argv` detached (new session, stdin from /dev/null,
    output appended to `log_file`) and prints its pid once `pid_file` holds it.

    The inner shell writes its own pid and then execs the program, so the pid is the
    daemon's; `setsid` detaches it from the caller's session and connection."""
    assigns = " ".join(f"{k}={shlex.quote(v)}" for k, v in (env or {}).items())
    inner = f"echo $$ > {shlex.quote(pid_file)}.tmp && mv {shlex.quote(pid_file)}.tmp " \
            f"{shlex.quote(pid_file)} && exec env {assigns} {shlex.join(argv)}"  # fmt: skip
    chdir = f"cd {shlex.quote(cwd)} && " if cwd else ""
    return (
        f"{chdir}rm -f {shlex.quote(pid_file)}; "
        f"setsid sh -c {shlex.quote(inner)} >> {shlex.quote(log_file)} 2>&1 < /dev/null & "
        f"for i in $(seq 1 500); do [ -s {shlex.quote(pid_file)} ] && break; sleep 0.01; done; "
        f"cat {shlex.quote(pid_file)}"
    )


class ShellOps:
    """Daemons, signals and /proc reads built on `run` and `read_file`: the part of a
    Remote that is the same on every host (mixed into both implementations)."""

    name: str

    def run(self, cmd: str, timeout_s: float = 60.0) -> Completed:
        raise NotImplementedError

    def read_file(self, path: str) -> bytes:
        raise NotImplementedError

    def start_daemon(
        self, argv: Sequence[str], *, pid_file: str, log_file: str,
        env: Mapping[str, str] | None = None, cwd: str | None = None,
    ) -> int:  # fmt: skip
        """Starts `argv` as a detached daemon; returns its pid. Raises RemoteError with
        the log's tail when it cannot be started."""
        done = self.run(daemon_script(argv, pid_file, log_file, env, cwd), timeout_s=30.0)
        text = done.stdout.strip()
        if done.status != 0 or not text.isdigit():
            why = (done.stderr or text).strip()[-300:]
            raise RemoteError(
                f"host {self.name}: could not start {argv[0]} ({why}); see {log_file}"
            )
        return int(text)

    def signal(self, pid: int, sig: signals.Signals) -> bool:
        """Sends `sig` to `pid`; False when there is no such process."""
        return self.run(f"kill -{int(sig)} {int(pid)} 2>/dev/null", timeout_s=10.0).status == 0

    def kill(self, pid: int, timeout_s: float = 5.0) -> bool:
        """kill -9 `pid` and wait until it is gone; False if it outlives `timeout_s`."""
        self.signal(pid, signals.SIGKILL)
        return self.wait_gone(pid, timeout_s)

    def wait_gone(self, pid: int, timeout_s: float) -> bool:
        """Polls /proc until `pid` is gone (or a zombie); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while self.process_state(pid) is not None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)  # polling the host's /proc for the condition
        return True

    def process_state(self, pid: int) -> str | None:
        """The state letter of `pid` in the host's /proc ("R", "S", "T", "D", ...);
        None when the process is gone or a zombie."""
        try:
            stat = self.read_file(f"/proc/{int(pid)}/stat").decode(errors="replace")
        except (OSError, RemoteError):
            return None
        state = stat.rpartition(")")[2].split()[0] if ")" in stat else "X"
        return None if state in ("Z", "X") else state


class LocalRemote(ShellOps):
    """This machine, through subprocesses and plain file calls."""

    def __init__(self, name: str = "local", address: str = "127.0.0.1") -> None:
        self.name, self.address = name, address

    def run(self, cmd: str, timeout_s: float = 60.0) -> Completed:
        """Runs `cmd` with sh in its own session; on timeout kills that session and raises."""
        with subprocess.Popen(
            ["sh", "-c", cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, start_new_session=True,
        ) as p:  # fmt: skip
            try:
                out, err = p.communicate(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(p)
                raise RemoteTimeout(f"host {self.name}: `{cmd[:80]}` did not finish within "
                                    f"{timeout_s:g}s and was killed") from None  # fmt: skip
        return Completed(p.returncode, out.decode(errors="replace"), err.decode(errors="replace"))

    def upload(self, local: Path, path: str) -> None:
        self._copy(Path(local), Path(path))

    def download(self, path: str, local: Path) -> None:
        self._copy(Path(path), Path(local))

    def _copy(self, src: Path, dst: Path) -> None:
        import shutil

        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        except OSError as e:
            raise RemoteError(f"host {self.name}: copying {src} to {dst}: {e}") from None

    def read_file(self, path: str) -> bytes:
        """The file's bytes; raises OSError (FileNotFoundError, ...) as open() does."""
        with open(path, "rb") as f:
            return f.read()

    def write_file(self, path: str, data: bytes) -> None:
        target = Path(path)
        tmp = target.with_name(target.name + ".tmp")
        try:
            tmp.write_bytes(data)
            tmp.replace(target)
        except OSError as e:
            raise RemoteError(f"host {self.name}: writing {path}: {e}") from None

    def signal(self, pid: int, sig: signals.Signals) -> bool:
        import os

        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return False
        return True

    def close(self) -> None:
        """Nothing to release."""


def _kill_group(p: subprocess.Popen[bytes]) -> None:
    import os

    try:
        os.killpg(p.pid, signals.SIGKILL)
    except ProcessLookupError:
        pass
    p.communicate()
