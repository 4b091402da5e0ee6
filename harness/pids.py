"""Processes on this machine: is a pid alive, and waiting for it to be gone.

A pid counts as gone once it has exited, even as a zombie: our own children are
reaped here, and a daemon's zombie waits for init but has exited all the same.
"""

from __future__ import annotations

import os
import time

from harness.remote import LocalRemote


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie (ours are reaped here; a daemon's
    zombie waits for init, but it has exited all the same)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return LocalRemote().process_state(pid) is not None


def wait_pid_gone(pid: int, timeout_s: float) -> bool:
    """Polls until `pid` is gone (reaping it if it is our child); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
