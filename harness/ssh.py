"""`SSHRemote`: a host reached over SSH with paramiko (netns hosts, VMs, any SSH host).

* Key authentication only (the key file the inventory names; no agent, no
  password prompts).
* Host keys are verified against a known_hosts file, on by default: an unknown or
  changed key is refused with a message saying how to fix it. `accept_new_host_key`
  (`sibyl run --accept-new-host-key`, inventory `accept_new_host_key = true`) trusts
  and records a host's key the first time only; a changed key is always refused.
* Connect retries with exponential backoff on network errors (never on a refused
  key); every command has a timeout, after which its channel is closed.
* One connection per host; at most `max_channels` commands run on it at once.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from pathlib import Path

import paramiko

from harness.inventory import HostSpec
from harness.remote import Completed, RemoteError, RemoteTimeout, ShellOps


class SSHRemote(ShellOps):
    """One host over one paramiko connection, opened on construction."""

    def __init__(
        self, host: HostSpec, connect_timeout_s: float = 5.0, connect_attempts: int = 3,
        max_channels: int = 8,
    ) -> None:  # fmt: skip
        self.target, self.name, self.address = host, host.name, host.address
        self.connect_timeout_s, self.connect_attempts = connect_timeout_s, connect_attempts
        self._channels = threading.BoundedSemaphore(max_channels)
        self._sftp_lock = threading.Lock()
        self._sftp: paramiko.SFTPClient | None = None
        self.client = self._connect()

    # --- connecting, with the errors a user can act on --------------------------------

    def _connect(self) -> paramiko.SSHClient:
        t, delay_s = self.target, 0.2
        for attempt in range(1, self.connect_attempts + 1):
            try:
                return self._connect_once()
            except (OSError, paramiko.ssh_exception.NoValidConnectionsError) as e:
                if attempt == self.connect_attempts:
                    raise RemoteError(
                        f"host {t.name} ({t.address}:{t.port}) is unreachable after "
                        f"{attempt} attempts: {_reason(e)}; check its address and port in the "
                        "inventory and that sshd runs there") from None  # fmt: skip
                time.sleep(delay_s)  # backoff between connection attempts
                delay_s *= 2
        raise AssertionError("unreachable")

    def _connect_once(self) -> paramiko.SSHClient:
        t = self.target
        known = Path(t.known_hosts).expanduser()
        client = paramiko.SSHClient()
        if known.is_file():
            client.load_host_keys(str(known))
        policy = _RecordNewKey(known) if t.accept_new_host_key else _RefuseUnknown(known)
        client.set_missing_host_key_policy(policy)
        try:
            client.connect(
                t.address, port=t.port, username=t.user,
                key_filename=str(Path(t.key).expanduser()), timeout=self.connect_timeout_s,
                banner_timeout=self.connect_timeout_s, auth_timeout=self.connect_timeout_s,
                allow_agent=False, look_for_keys=False,
            )  # fmt: skip
        except paramiko.BadHostKeyException as e:
            raise RemoteError(
                f"host {t.name} ({t.address}:{t.port}) presented a {e.key.get_name()} host key "
                f"that does not match the one in {known}: if the host was rebuilt, remove the "
                f"old key (ssh-keygen -f {known} -R '[{t.address}]:{t.port}') and run again"
            ) from None
        except paramiko.AuthenticationException:
            raise RemoteError(
                f"host {t.name}: user {t.user} was refused with key {t.key}: put its "
                f"public key in ~{t.user}/.ssh/authorized_keys on the host, or name the right "
                "key in the inventory ('key')") from None  # fmt: skip
        except paramiko.SSHException as e:
            if isinstance(e.__cause__, OSError) or "Error reading SSH protocol banner" in str(e):
                raise OSError(str(e)) from None
            raise RemoteError(f"host {t.name}: {e}") from None
        return client

    # --- commands -------------------------------------------------------------------

    def run(self, cmd: str, timeout_s: float = 60.0) -> Completed:
        """Runs `cmd` with the login shell; raises RemoteTimeout after `timeout_s`."""
        with self._channels:
            chan = self._transport().open_session(timeout=self.connect_timeout_s)
            try:
                chan.exec_command(cmd)
                out, err = _drain(chan, time.monotonic() + timeout_s)
                if out is None:
                    raise RemoteTimeout(f"host {self.name}: `{cmd[:80]}` did not finish "
                                        f"within {timeout_s:g}s")  # fmt: skip
                status = chan.recv_exit_status()
            finally:
                chan.close()
        return Completed(status, out.decode(errors="replace"), err.decode(errors="replace"))

    def _transport(self) -> paramiko.Transport:
        transport = self.client.get_transport()
        if transport is None or not transport.is_active():
            raise RemoteError(f"host {self.name}: the SSH connection was lost")
        return transport

    # --- files (SFTP on the same connection) -----------------------------------------

    def sftp(self) -> paramiko.SFTPClient:
        if self._sftp is None:
            self._sftp = self.client.open_sftp()
        return self._sftp

    def upload(self, local: Path, path: str) -> None:
        with self._sftp_lock:
            self._file_op("upload to", path, lambda s: s.put(str(local), path))

    def download(self, path: str, local: Path) -> None:
        Path(local).parent.mkdir(parents=True, exist_ok=True)
        with self._sftp_lock:
            self._file_op("download of", path, lambda s: s.get(path, str(local)))

    def read_file(self, path: str) -> bytes:
        """The file's bytes; raises OSError (FileNotFoundError, ...) like open()."""
        with self._sftp_lock, self.sftp().open(path, "rb") as f:
            return bytes(f.read())

    def write_file(self, path: str, data: bytes) -> None:
        def write(s: paramiko.SFTPClient) -> None:
            with s.open(path + ".tmp", "wb") as f:
                f.write(data)
            s.posix_rename(path + ".tmp", path)

        with self._sftp_lock:
            self._file_op("writing", path, write)

    def _file_op(self, what: str, path: str, op: object) -> None:
        try:
            op(self.sftp())  # type: ignore[operator]
        except OSError as e:
            full = "no space left on the device" in str(e).lower() or "failure" == str(e).lower()
            hint = "; the host's disk is full: free space there" if full else ""
            raise RemoteError(f"host {self.name}: {what} {path} failed: {e}{hint}") from None

    def close(self) -> None:
        if self._sftp is not None:
            self._sftp.close()
        self.client.close()


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, known: Path) -> None:
        self.known = known

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: object) -> None:
        raise RemoteError(
            f"host {hostname} is not in {self.known}: add its key there (ssh-keyscan), or "
            "trust it on first use with accept_new_host_key = true in the inventory "
            "(sibyl run --accept-new-host-key)")  # fmt: skip


class _RecordNewKey(paramiko.MissingHostKeyPolicy):
    """Trusts a host seen for the first time and appends its key to known_hosts."""

    def __init__(self, known: Path) -> None:
        self.known = known

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: object) -> None:
        assert isinstance(key, paramiko.PKey)
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.known.parent.mkdir(parents=True, exist_ok=True)
        with open(self.known, "a") as f:
            f.write(f"{hostname} {key.get_name()} {key.get_base64()}\n")


def _drain(chan: paramiko.Channel, deadline: float) -> tuple[bytes | None, bytes]:
    """Reads stdout and stderr until the command exits; (None, b"") on the deadline.

    OpenSSH may send the exit status while the command's output is still on its way
    (it reports the exit when the child ends, and sends the rest of the pipe after), so
    the output is complete only once the channel's EOF has arrived too. Waiting on the
    status event (10 ms at a time, reading whatever arrived in between) keeps a short
    command's cost near one round trip."""
    out, err = bytearray(), bytearray()
    while True:
        while chan.recv_ready():
            out += chan.recv(65536)
        while chan.recv_stderr_ready():
            err += chan.recv_stderr(65536)
        done = chan.exit_status_ready() and chan.eof_received
        if done and not chan.recv_ready() and not chan.recv_stderr_ready():
            return bytes(out), bytes(err)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, b""
        if chan.exit_status_ready():  # the event stays set: wait for data or EOF instead
            select.select([chan], [], [], min(remaining, 0.01))
        else:
            chan.status_event.wait(min(remaining, 0.01))


def _reason(e: BaseException) -> str:
    if isinstance(e, paramiko.ssh_exception.NoValidConnectionsError):
        return "; ".join(str(v) for v in e.errors.values()) or str(e)
    if isinstance(e, socket.timeout | TimeoutError):
        return "connection timed out"
    return str(e) or type(e).__name__
