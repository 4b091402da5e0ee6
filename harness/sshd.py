"""A private sshd: generated keys, its own config, started (maybe in a netns), stopped by pid.

`SshdSpec.prepare()` writes, under one directory, a host key, a client key pair,
an authorized_keys file holding the client key, a known_hosts line for the host
key, and an sshd_config that accepts only that client key. `start()` launches
`/usr/sbin/sshd` with that config (inside `ip netns exec NS` when `netns` is set)
and returns its pid, read from the pid file sshd writes; `stop_sshd(pid_file)`
kills exactly that pid. Nothing of the system's own sshd configuration is used.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


class SshdError(RuntimeError):
    """sshd could not be prepared or started; the message says why and what to install."""


@dataclass(frozen=True)
class SshdSpec:
    """One sshd: where its files live, where it listens, and in which netns (if any)."""

    dir: Path
    address: str
    port: int = 22
    netns: str | None = None

    @property
    def pid_file(self) -> Path:
        return self.dir / "sshd.pid"

    @property
    def host_key(self) -> Path:
        return self.dir / "ssh_host_ed25519_key"

    def prepare(self, client_key: Path) -> None:
        """Writes the host key, authorized_keys (the public half of `client_key`) and
        sshd_config. Generates `client_key` too when it does not exist yet."""
        if shutil.which("ssh-keygen") is None or not Path(SSHD).is_file():
            raise SshdError("the netns lab needs OpenSSH's sshd and ssh-keygen: "
                            "apt-get install openssh-server")  # fmt: skip
        self.dir.mkdir(parents=True, exist_ok=True)
        generate_key(client_key)
        generate_key(self.host_key)
        (self.dir / "authorized_keys").write_text(Path(f"{client_key}.pub").read_text())
        (self.dir / "sshd_config").write_text(self.config())

    def config(self) -> str:
        return "\n".join([
            f"ListenAddress {self.address}", f"Port {self.port}",
            f"HostKey {self.host_key}", f"PidFile {self.pid_file}",
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}",
            "PermitRootLogin prohibit-password", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            "Subsystem sftp internal-sftp", "MaxSessions 64", "MaxStartups 64:30:128",
            "UseDNS no", "LogLevel ERROR",
            # bash sources ~/.bashrc for ssh commands only at shell level 1: a lab host is
            # a service account, not a login, and root's rc files (pyenv, ...) cost ~0.2 s
            # per command
            "SetEnv SHLVL=1", "",
        ])  # fmt: skip

    def known_hosts_line(self) -> str:
        """The known_hosts entry for this sshd's host key, at its address and port."""
        host = self.address if self.port == 22 else f"[{self.address}]:{self.port}"
        kind, key = Path(f"{self.host_key}.pub").read_text().split()[:2]
        return f"{host} {kind} {key}\n"

    def start(self, timeout_s: float = 10.0) -> int:
        """Starts sshd (it daemonizes) and returns its pid once its pid file exists."""
        Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege-separation dir
        self.pid_file.unlink(missing_ok=True)
        argv = [SSHD, "-f", str(self.dir / "sshd_config"), "-E", str(self.dir / "sshd.log")]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns, *argv]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise SshdError(f"sshd for {self.address} did not start: {done.stderr.strip()} "
                            f"(see {self.dir / 'sshd.log'})")  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while not self.pid_file.is_file() or not self.pid_file.read_text().strip():
            if time.monotonic() > deadline:
                raise SshdError(f"sshd for {self.address} wrote no pid file {self.pid_file}")
            time.sleep(0.02)  # waiting for sshd to write its pid file
        return int(self.pid_file.read_text().split()[0])


def generate_key(path: Path) -> None:
    """An ed25519 key pair at `path` and `path`.pub, unless it exists already."""
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sibyl-lab", "-f", str(path)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip


def stop_pid(pid: int, comm: str, timeout_s: float = 5.0) -> bool:
    """Kills `pid` (TERM, then KILL) if it is still a process named `comm`, so a
    recycled pid is never hit; True when it is gone."""
    try:
        if Path(f"/proc/{pid}/comm").read_text().strip() != comm:
            return True
        os.kill(pid, signal.SIGTERM)
    except (OSError, ProcessLookupError):
        return True
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists():
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return False
        time.sleep(0.02)  # waiting for the process to exit
    return True
