"""A lazy filesystem (after LazyFS): writes stay in memory until fsync, and a crash drops them.

`LazyFS` is a FUSE passthrough over a backing directory. File *contents*
written through the mount live in an in-memory overlay per file until that file
is fsync'd (or fdatasync'd); only then are the dirty ranges (and a changed size)
written to the backing file and fsync'd there. `crash()` throws every overlay
away, so what the backing directory holds afterwards is exactly what was synced:
the page cache of a machine that lost power. Metadata operations (create,
unlink, rename, mkdir, chmod) go to the backing directory at once and count as
durable; only file data is lazy, which is the part a store's "fsync before
ack" promise is about.

The daemon (`python -m harness.lazyfs MOUNT BACKING SOCKET`) also serves a tiny
control protocol on a Unix socket: one line in ("status", "crash", "sync"),
one JSON line out. harness/lazyfs_control.py starts, drives and unmounts it.

Invariant: every read sees the overlay over the backing file (what a process
on a healthy machine would see); after `crash()` every read sees the backing
file alone.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mfusepy as fuse

#: The most bytes a single control request may carry.
CONTROL_LINE_BYTES = 64


@dataclass
class Overlay:
    """The unsynced state of one file: its whole content and what changed."""

    content: bytearray
    dirty: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    resized: bool = False

    def write(self, data: bytes, offset: int) -> None:
        end = offset + len(data)
        if end > len(self.content):
            self.content.extend(bytes(end - len(self.content)))
            self.resized = True
        self.content[offset:end] = data
        self.dirty.append((offset, len(data)))

    def truncate(self, length: int) -> None:
        if length < len(self.content):
            del self.content[length:]
        else:
            self.content.extend(bytes(length - len(self.content)))
        self.resized = True

    def unsynced_bytes(self) -> int:
        return sum(n for _, n in self.dirty) + (1 if self.resized and not self.dirty else 0)


class LazyFS(fuse.Operations):
    """Passthrough to `backing` with file data held in memory until fsync."""

    use_ns = True

    def __init__(self, backing: Path) -> None:
        self.backing = backing
        self.overlays: dict[str, Overlay] = {}
        self.mutex = threading.RLock()
        self.crashes = 0
        self.synced_bytes = 0

    def _real(self, path: str) -> str:
        return str(self.backing / path.lstrip("/"))

    # --- control -------------------------------------------------------------

    def crash(self) -> int:
        """Drops every unsynced write; returns how many bytes were dropped."""
        with self.mutex:
            dropped = sum(o.unsynced_bytes() for o in self.overlays.values())
            self.overlays.clear()
            self.crashes += 1
            return dropped

    def sync_all(self) -> None:
        with self.mutex:
            for path in list(self.overlays):
                self._flush(path)

    def status(self) -> dict[str, Any]:
        with self.mutex:
            unsynced = sum(o.unsynced_bytes() for o in self.overlays.values())
            return {"unsynced_bytes": unsynced, "dirty_files": len(self.overlays),
                    "crashes": self.crashes, "synced_bytes": self.synced_bytes}  # fmt: skip

    # --- the overlay -----------------------------------------------------------

    def _overlay(self, path: str) -> Overlay:
        o = self.overlays.get(path)
        if o is None:
            with open(self._real(path), "rb") as f:
                o = Overlay(bytearray(f.read()))
            self.overlays[path] = o
        return o

    def _flush(self, path: str) -> None:
        o = self.overlays.pop(path, None)
        if o is None:
            return
        fd = os.open(self._real(path), os.O_WRONLY)
        try:
            if o.resized:
                os.ftruncate(fd, len(o.content))
            for offset, length in o.dirty:
                end = min(offset + length, len(o.content))
                if end > offset:
                    os.pwrite(fd, bytes(o.content[offset:end]), offset)
                    self.synced_bytes += end - offset
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- files -------------------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        try:
            st = os.lstat(self._real(path))
        except OSError as e:
            raise fuse.FuseOSError(e.errno or errno.EIO) from None
        attrs = {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid",
                                             "st_size", "st_atime_ns", "st_mtime_ns",
                                             "st_ctime_ns")}  # fmt: skip
        for k in ("st_atime", "st_mtime", "st_ctime"):
            attrs[k] = attrs.pop(k + "_ns")
        with self.mutex:
            o = self.overlays.get(path)
            if o is not None:
                attrs["st_size"] = len(o.content)
        return attrs

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        with self.mutex:
            o = self.overlays.get(path)
            if o is not None:
                return bytes(o.content[offset : offset + size])
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        with self.mutex:
            self._overlay(path).write(bytes(data), offset)
        return len(data)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        with self.mutex:
            self._overlay(path).truncate(length)
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        with self.mutex:
            self._flush(path)
        return 0

    def open(self, path: str, flags: int) -> int:
        writable = flags & os.O_ACCMODE != os.O_RDONLY
        fd = os.open(self._real(path), os.O_RDWR if writable else os.O_RDONLY)
        if writable and flags & os.O_TRUNC:
            with self.mutex:
                self._overlay(path).truncate(0)
        return fd

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        fd = os.open(self._real(path), os.O_RDWR | os.O_CREAT, mode)
        with self.mutex:
            self.overlays.pop(path, None)
        return fd

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0  # close() is not a durability point

    def unlink(self, path: str) -> int:
        os.unlink(self._real(path))
        with self.mutex:
            self.overlays.pop(path, None)
        return 0

    def rename(self, old: str, new: str) -> int:
        os.rename(self._real(old), self._real(new))
        with self.mutex:
            o = self.overlays.pop(old, None)
            self.overlays.pop(new, None)
            if o is not None:
                self.overlays[new] = o
        return 0

    # --- directories and the rest: plain passthrough -------------------------------

    def readdir(self, path: str, fh: int) -> list[str]:
        return [".", "..", *sorted(os.listdir(self._real(path)))]

    def mkdir(self, path: str, mode: int) -> int:
        os.mkdir(self._real(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.chown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        if times is None:
            os.utime(self._real(path))
        else:
            os.utime(self._real(path), ns=times)
        return 0

    def access(self, path: str, amode: int) -> int:
        if not os.access(self._real(path), amode):
            raise fuse.FuseOSError(errno.EACCES)
        return 0

    def statfs(self, path: str) -> dict[str, int]:
        sv = os.statvfs(self._real(path))
        names = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
                 "f_files", "f_flag", "f_frsize", "f_namemax")  # fmt: skip
        return {k: getattr(sv, k) for k in names}

    def fsyncdir(self, path: str, datasync: int, fh: int) -> int:
        return 0  # metadata is durable at once


def serve_control(fs: LazyFS, sock_path: Path) -> threading.Thread:
    """Answers control requests on a Unix socket in a daemon thread."""
    sock_path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(4)
    actions = {"status": lambda: None, "crash": fs.crash, "sync": fs.sync_all}

    def loop() -> None:
        while True:
            conn, _ = server.accept()
            with conn:
                conn.settimeout(5.0)
                try:
                    line = conn.recv(CONTROL_LINE_BYTES).decode().strip()
                except (OSError, UnicodeDecodeError):
                    continue
                action = actions.get(line)
                if action is None:
                    reply: dict[str, Any] = {"error": f"unknown command {line!r}"}
                else:
                    result = action()
                    reply = {**fs.status(), **({"dropped_bytes": result} if line == "crash"
                                               else {})}  # fmt: skip
                conn.sendall(json.dumps(reply).encode() + b"\n")

    thread = threading.Thread(target=loop, name="lazyfs-control", daemon=True)
    thread.start()
    return thread


def main(argv: list[str]) -> int:
    """`python -m harness.lazyfs MOUNT BACKING SOCKET`: mounts and serves until unmounted."""
    if len(argv) != 3:
        print("usage: python -m harness.lazyfs MOUNT BACKING SOCKET", file=sys.stderr)
        return 254
    mount, backing, sock = (Path(a).resolve() for a in argv)
    fs = LazyFS(backing)
    serve_control(fs, sock)
    # No kernel caching of attributes or data between opens: after a crash the
    # restarted node must see the backing files, not what the kernel remembers.
    fuse.FUSE(fs, str(mount), foreground=True, nothreads=True, attr_timeout=0,
              entry_timeout=0, negative_timeout=0)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
