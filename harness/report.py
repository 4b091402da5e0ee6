"""What a run tells people and machines: results.json, junit.xml and report.html.

`results.json` is schema-versioned (harness/schemas/results.schema.json): the
overall verdict (merged as Jepsen does: False beats unknown beats True), each
checker's Result, the run's stats, the seed, the command to rerun, the Sibyl
version and the node commit. A crashed run gets all three files too. Each
write also updates the store's run index (harness/runindex.py), so `sibyl
serve` lists the run at once. `regenerate` rebuilds the files of a stored run.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from checkers.history import Op
from checkers.result import Result, Validity, merge_valid
from harness import runindex
from harness.junit import junit_xml
from harness.page import render_html
from harness.rundata import RunData, lineage, load_run, run_files
from harness.store import write_json

SCHEMA_VERSION = 1
EXIT_CODES = {True: 0, False: 1, "unknown": 2}
CRASHED = 255


def exit_code(valid: Validity) -> int:
    """Jepsen's exit codes: 0 valid, 1 invalid, 2 unknown."""
    return EXIT_CODES.get(valid, 2)


def results_doc(results: Mapping[str, Result], meta: Mapping[str, Any]) -> dict[str, Any]:
    """The results.json document."""
    valid = merge_valid(r.valid for r in results.values())
    return {
        "schema_version": SCHEMA_VERSION,
        "valid": valid,
        "checkers": {name: r.to_dict() for name, r in results.items()},
        **meta,
    }


def write_all(
    run_dir: Path,
    results: Mapping[str, Result],
    meta: Mapping[str, Any],
    faults: list[dict[str, Any]],
    history: Sequence[Op] = (),
) -> dict[str, Any]:
    """Writes results.json, junit.xml and report.html; returns the results document."""
    doc = results_doc(results, {**provenance(run_dir), **meta})
    write_json(run_dir / "results.json", doc)
    write_views(run_dir, RunData.build(doc, history, faults, run_files(run_dir)))
    return doc


def write_crashed(run_dir: Path, doc: Mapping[str, Any]) -> dict[str, Any]:
    """A crashed run's results.json (valid "unknown", crashed true), junit.xml and report."""
    full = {"schema_version": SCHEMA_VERSION, **provenance(run_dir), **doc, "crashed": True}
    crash = run_dir / "crash.txt"
    if crash.is_file():
        full.setdefault("traceback", crash.read_text()[-4000:])
    write_json(run_dir / "results.json", full)
    run = load_run(run_dir)
    write_views(run_dir, run)
    return full


def regenerate(run_dir: Path) -> dict[str, Any]:
    """Rebuilds report.html, results.json and junit.xml of a stored run (crashed too)."""
    results = run_dir / "results.json"
    ended = results.stat().st_mtime if results.is_file() else None  # before we rewrite it
    run = load_run(run_dir)
    doc = {"schema_version": SCHEMA_VERSION, **provenance(run_dir, ended), **run.doc}
    if doc.get("crashed") or "checkers" not in doc:
        return write_crashed(run_dir, doc)
    write_json(run_dir / "results.json", doc)
    run.doc = doc
    run.files = run_files(run_dir)
    write_views(run_dir, run)
    return doc


def write_views(run_dir: Path, run: RunData) -> None:
    """junit.xml, report.html, and this run's row in the store index."""
    (run_dir / "junit.xml").write_bytes(junit_xml(run))
    run.files = run_files(run_dir)
    run.shrunk = lineage(run_dir)
    (run_dir / "report.html").write_text(render_html(run), encoding="utf-8")
    runindex.record_run(run_dir)


def provenance(run_dir: Path, ended: float | None = None) -> dict[str, Any]:
    """When the run started (config.json is written first), how long it took (until `ended`,
    default now), and which Sibyl and node code ran it."""
    config = run_dir / "config.json"
    started = config.stat().st_mtime if config.is_file() else time.time()
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": round(max(0.0, (ended or time.time()) - started), 1),
        "version": version(),
        "node_commit": node_commit(),
    }


@cache
def version() -> str:
    try:
        return metadata.version("sibyl")
    except metadata.PackageNotFoundError:
        return "unknown"


@cache
def node_commit() -> str:
    """The git commit of the checkout the node code runs from ("unknown" outside git)."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=False)  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() or "unknown"
