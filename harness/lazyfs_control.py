"""Mounting and driving LazyFS (harness/lazyfs.py) under each node's data directory.

`LazyMount.start(node_dir)` mounts a lazy filesystem at `node_dir/data` backed
by `node_dir/data.disk`, in a daemon process of its own, and waits until the
mount is live and its control socket answers. `crash()` drops what was not
fsync'd, `status()` reports the unsynced bytes and the crash count, and
`stop()` unmounts and ends that daemon (by its pid). Mount before the node
starts and unmount after it stops: the node must never see the mount point
without the filesystem.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.cluster import LocalCluster
from harness.pids import pid_alive, wait_pid_gone


class LazyFSError(RuntimeError):
    """A lazy filesystem that cannot be mounted, driven or unmounted; says which and why."""


def fuse_available() -> str | None:
    """None when this machine can mount FUSE filesystems, else why not."""
    if not Path("/dev/fuse").exists():
        return "/dev/fuse is missing (load the fuse module, or run the container with it)"
    if shutil.which("fusermount3") is None and os.geteuid() != 0:
        return "fusermount3 is missing; install Debian's fuse3"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as e:
        return f"mfusepy cannot load libfuse ({e}); install Debian's fuse3 and mfusepy"
    return None


def control_socket(node_dir: Path) -> Path:
    """Where the daemon for `node_dir` listens: a short path in the temp directory,
    since a Unix socket path may not exceed 107 bytes and run directories can."""
    digest = hashlib.sha256(str(node_dir.resolve()).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"sibyl-lazyfs-{digest}.sock"


@dataclass
class LazyMount:
    """One mounted lazy filesystem and the daemon serving it."""

    mount: Path
    backing: Path
    sock: Path
    pid: int

    @classmethod
    def start(cls, node_dir: Path, timeout_s: float = 10.0) -> LazyMount:
        """Mounts LazyFS at `node_dir/data` over `node_dir/data.disk`; raises LazyFSError."""
        why = fuse_available()
        if why:
            raise LazyFSError(f"durability faults need FUSE: {why}")
        mount, backing = node_dir / "data", node_dir / "data.disk"
        sock = control_socket(node_dir)
        for d in (mount, backing):
            d.mkdir(parents=True, exist_ok=True)
        with open(node_dir / "lazyfs.log", "ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "harness.lazyfs", str(mount), str(backing), str(sock)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # fmt: skip
        lazy = cls(mount, backing, sock, proc.pid)
        lazy._wait_mounted(timeout_s, node_dir / "lazyfs.log")
        return lazy

    def _wait_mounted(self, timeout_s: float, log: Path) -> None:
        deadline = time.monotonic() + timeout_s
        while not (os.path.ismount(self.mount) and self._answers()):
            if not pid_alive(self.pid) or time.monotonic() > deadline:
                self.stop()
                raise LazyFSError(f"LazyFS did not mount at {self.mount} within {timeout_s}s; "
                                  f"see {log}")  # fmt: skip
            time.sleep(0.02)  # polling the mount table until the daemon has mounted

    def _answers(self) -> bool:
        try:
            self.status()
        except LazyFSError:
            return False
        return True

    def _call(self, command: str) -> dict[str, Any]:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5.0)
                s.connect(str(self.sock))
                s.sendall(command.encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        except OSError as e:
            raise LazyFSError(f"LazyFS at {self.mount} does not answer '{command}': {e}") from None
        try:
            return dict(json.loads(data))
        except ValueError:
            raise LazyFSError(f"LazyFS at {self.mount} answered {data!r}") from None

    def status(self) -> dict[str, Any]:
        """{"unsynced_bytes", "dirty_files", "crashes", "synced_bytes"}."""
        return self._call("status")

    def crash(self) -> dict[str, Any]:
        """Drops every unsynced write (stop the node first); returns the status after,
        with "dropped_bytes"."""
        return self._call("crash")

    def stop(self) -> None:
        """Unmounts and ends the daemon; idempotent. Stop the node using it first."""
        if os.path.ismount(self.mount):
            tool = shutil.which("fusermount3")
            cmd = [tool, "-u", "-z", str(self.mount)] if tool else ["umount", "-l", str(self.mount)]
            subprocess.run(cmd, capture_output=True, timeout=10, check=False)
        if not wait_pid_gone(self.pid, 5.0):
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            wait_pid_gone(self.pid, 5.0)
        self.sock.unlink(missing_ok=True)


def mount_all(cluster: LocalCluster) -> dict[str, LazyMount]:
    """Mounts LazyFS under every node of `cluster` (before they start); on failure
    unmounts what was mounted and raises LazyFSError."""
    mounts: dict[str, LazyMount] = {}
    try:
        for name in cluster.nodes:
            mounts[name] = LazyMount.start(cluster.node_dir(name))
    except BaseException:
        for m in mounts.values():
            m.stop()
        raise
    return mounts
