"""Running one measurement in a forked child, so each starts from the same memory.

`run_forked(fn, *args)` forks; the child calls `fn(*args)`, which returns a
JSON-able dict (its peak RSS is then the child's own), writes it to a pipe and
exits without returning into the parent's code. An exception in the child
comes back as {"error": repr}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any


def run_forked(fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Returns what `fn(*args)` returned in a forked child, or {"error": ...}."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = json.dumps(fn(*args)).encode()
        except BaseException as e:  # noqa: BLE001 - report, never return into the parent
            out = json.dumps({"error": repr(e)}).encode()
        os.write(w, out)
        os._exit(0)
    os.close(w)
    chunks = []
    while chunk := os.read(r, 65536):
        chunks.append(chunk)
    os.close(r)
    os.waitpid(pid, 0)
    if not chunks:
        return {"error": "the child died without a report"}
    return dict(json.loads(b"".join(chunks)))
