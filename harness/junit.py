"""junit.xml for CI: one testcase per checker, so a CI page shows what failed.

Valid is a pass, invalid a `<failure>` (with the headline and the first
anomalies in prose), unknown an `<error>` (Sibyl exits 2, so CI must not show
green), and a crashed run one `run` testcase with an `<error>`. The suite
carries `time` attributes and properties for the seed, the command, the
version and the node commit. The shape follows the JUnit XSD shipped in
tests/schemas/junit.xsd.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree as ET

from harness.findings import headline, total, true_counts
from harness.narrate import panel
from harness.rundata import RunData

LISTED = 20


def junit_xml(run: RunData) -> bytes:
    """The junit.xml document for `run` (crashed or not)."""
    doc = run.doc
    suite = str(doc.get("test") or "sibyl")
    checkers: Mapping[str, Any] = doc.get("checkers") or {}
    ts = ET.Element("testsuite", name=suite)
    props = ET.SubElement(ts, "properties")
    for name in ("seed", "command", "version", "node_commit", "started_at"):
        ET.SubElement(props, "property", name=name, value=str(doc.get(name, "unknown")))
    failures = errors = 0
    if doc.get("crashed") or not checkers:
        errors = 1
        case = ET.SubElement(ts, "testcase", classname=suite, name="run", time="0")
        err = ET.SubElement(case, "error", message=str(doc.get("error") or "the run crashed"),
                            type="crashed")  # fmt: skip
        err.text = str(doc.get("traceback") or doc.get("error") or "")
    for name, r in checkers.items():
        secs = (r.get("stats") or {}).get("check_s", 0)
        case = ET.SubElement(ts, "testcase", classname=suite, name=name, time=f"{float(secs):.3f}")
        if r.get("valid") is False:
            failures += 1
            counts = ", ".join(f"{k}: {v:,}" for k, v in sorted(true_counts(r).items()))
            fail = ET.SubElement(case, "failure", type="invalid",
                                 message=f"{total(r):,} anomalies ({counts})")  # fmt: skip
            fail.text = _details(name, r, run)
        elif r.get("valid") is not True:
            errors += 1
            ET.SubElement(case, "error", type="unknown", message=headline(name, r, run))
    duration = float(doc.get("duration_s") or (doc.get("stats") or {}).get("chaos_s") or 0)
    ts.set("tests", str(max(len(checkers), 1 if errors else 0)))
    ts.set("failures", str(failures))
    ts.set("errors", str(errors))
    ts.set("skipped", "0")
    ts.set("time", f"{duration:.3f}")
    ET.indent(ts)
    return ET.tostring(ts, encoding="utf-8", xml_declaration=True)


def _details(name: str, r: Mapping[str, Any], run: RunData) -> str:
    lines = [headline(name, r, run)]
    stored = [a for a in r.get("anomalies") or [] if isinstance(a, dict)]
    for a in stored[:LISTED]:
        p = panel(name, a, run)
        lines.append(f"- {p.title}: {' '.join(p.sentences)}")
    if total(r) > LISTED:
        lines.append(f"... {total(r) - min(len(stored), LISTED):,} more; see report.html")
    return "\n".join(lines)
