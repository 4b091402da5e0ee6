"""Validation of what Sibyl writes for machines: results.json (JSON Schema) and junit.xml (XSD).

The results schema is the one the repository publishes
(harness/schemas/results.schema.json); the JUnit XSD ships with the tests.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import xmlschema

ROOT = Path(__file__).resolve().parents[2]
RESULTS_SCHEMA = ROOT / "harness" / "schemas" / "results.schema.json"
JUNIT_XSD = ROOT / "tests" / "schemas" / "junit.xsd"


@cache
def _results_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(RESULTS_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@cache
def _junit_schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(JUNIT_XSD))


def validate_results(path: Path) -> dict[str, Any]:
    """Raises jsonschema.ValidationError unless `path` is a valid results.json; returns it."""
    doc = json.loads(path.read_text())
    _results_validator().validate(doc)
    return doc


def validate_junit(path: Path) -> None:
    """Raises xmlschema.XMLSchemaValidationError unless `path` is valid JUnit XML."""
    _junit_schema().validate(str(path))


def validate_run_outputs(folder: Path) -> int:
    """Validates every results.json and junit.xml under `folder`; returns how many files."""
    n = 0
    for path in sorted(folder.rglob("results.json")):
        if path.parent.is_symlink():
            continue
        validate_results(path)
        n += 1
    for path in sorted(folder.rglob("junit.xml")):
        if not path.parent.is_symlink():
            validate_junit(path)
            n += 1
    return n
