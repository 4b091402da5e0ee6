"""Run directories: `store/<test>/<timestamp>/`, with `store/latest` pointing at the newest.

A run directory holds everything needed to understand and repeat a run:
`config.json` (the options, the seed), `command.txt` (the exact command),
`history.jsonl`, `schedule.json` (the realised fault schedule), `results.json`,
`junit.xml`, `report.html`, and the node logs under `nodes/`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any


class StoreError(ValueError):
    """A path that is not a run directory; the message says what was expected."""


def new_run_dir(store: str | Path, test: str) -> Path:
    """Creates `store/<test>/<timestamp>/`; `store/latest` and `store/<test>/latest` point at it."""
    base = Path(store) / test
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = base / stamp
    n = 1
    while path.exists():
        n += 1
        path = base / f"{stamp}-{n}"
    path.mkdir(parents=True)
    _point(Path(store) / "latest", path)
    _point(base / "latest", path)
    return path


def _point(link: Path, target: Path) -> None:
    tmp = link.with_name(link.name + ".tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(os.path.relpath(target, link.parent))
    tmp.replace(link)


def write_json(path: Path, data: Any) -> None:
    """Writes `data` as indented JSON, atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n")
    tmp.replace(path)


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise StoreError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None


def find_run(path: str | Path) -> Path:
    """Resolves a run directory (or a `latest` link); raises StoreError if it is not one."""
    p = Path(path).resolve()
    if not (p / "history.jsonl").is_file() or not (p / "config.json").is_file():
        raise StoreError(
            f"{path} is not a run directory (it needs history.jsonl and config.json); "
            "pass e.g. store/latest"
        )
    return p
