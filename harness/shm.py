"""libfaketime's shared-memory files: one pair per faked process, in /dev/shm.

libfaketime creates them when a process starts and never removes them; a later
process that gets the same pid then fails to start. `remove_shm` deletes a
process's pair once that process is gone.
"""

from __future__ import annotations

from pathlib import Path

from harness.pids import pid_alive

SHM_DIR = Path("/dev/shm")


def shm_paths(pid: int) -> tuple[Path, Path]:
    """The shared-memory files libfaketime creates for process `pid`."""
    return SHM_DIR / f"faketime_shm_{pid}", SHM_DIR / f"sem.faketime_sem_{pid}"


def remove_shm(pid: int) -> bool:
    """Deletes libfaketime's shared-memory pair for `pid` if that process is gone.
    Returns True when nothing of it is left (False: the process still runs)."""
    if pid_alive(pid):
        return False
    for path in shm_paths(pid):
        path.unlink(missing_ok=True)
    return True
