"""What a run tells people and machines: results.json, junit.xml and report.html.

`results.json` is schema-versioned: the overall verdict (merged as Jepsen does:
False beats unknown beats True), each checker's Result, the run's stats, the
seed and the command to rerun. `report.html` is one self-contained page for a
person: the verdict, the faults on a timeline, and every anomaly as a table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import jinja2
import markupsafe

from checkers.history import Op
from checkers.result import Result, Validity, merge_valid
from harness.plots import latency_svg
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
    doc = results_doc(results, meta)
    write_json(run_dir / "results.json", doc)
    (run_dir / "junit.xml").write_bytes(junit(results, str(meta.get("test", "sibyl"))))
    (run_dir / "report.html").write_text(render_html(doc, faults, latency_svg(history)))
    return doc


def junit(results: Mapping[str, Result], suite: str) -> bytes:
    """One testcase per checker: failure when invalid, skipped when unknown."""
    failures = sum(1 for r in results.values() if r.valid is False)
    ts = ET.Element("testsuite", name=suite, tests=str(len(results)), failures=str(failures))
    for name, r in results.items():
        case = ET.SubElement(ts, "testcase", classname=suite, name=name)
        if r.valid is False:
            fail = ET.SubElement(case, "failure", message=f"{len(r.anomalies)} anomalies")
            fail.text = json.dumps(r.anomalies[:20], indent=1, default=str)
        elif r.valid != True:  # noqa: E712
            ET.SubElement(case, "skipped", message=str(r.stats.get("error", "unknown")))
    return ET.tostring(ts, encoding="utf-8", xml_declaration=True)


_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True
)


def render_html(doc: Mapping[str, Any], faults: list[dict[str, Any]], plot: str = "") -> str:
    """The self-contained report page (no external resources)."""

    def word(v: Any) -> str:
        return "valid" if v is True else "INVALID" if v is False else "unknown"

    def cls(v: Any) -> str:
        return "ok" if v is True else "bad" if v is False else "unk"

    page = _ENV.get_template("report.html.j2")
    return page.render(doc=_Attr(doc), faults=[_Attr(f) for f in faults], word=word, cls=cls,
                       plot=markupsafe.Markup(plot))  # fmt: skip


class _Attr(dict[str, Any]):
    """A dict whose keys also read as attributes in the template."""

    def __getattr__(self, name: str) -> Any:
        v = self.get(name)
        return _Attr(v) if isinstance(v, dict) else v
